"""Registry fixtures: logged-in callers of each capacity, and small documents."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from api.context import Context
from identity.sessions import SESSION_COOKIE, Principal

CITIZEN_NIF = "12345678Z"
OTHER_NIF = "87654321X"


def principal(municipality: str, *, capacity: str = "citizen", nif: str = CITIZEN_NIF,
              roles: tuple[str, ...] = (), name: str = "María García López",
              **identity: Any) -> Principal:
    return Principal(
        subject=f"{capacity}:{nif}", capacity=capacity,
        identity={"nif": nif, "name": name, **identity}, loa="high", roles=roles,
        municipality_code=municipality, amr=("x509",), auth_time=int(time.time()),
    )


def minimal_pdf(text: str = "Documento de prueba") -> bytes:
    """A one-page PDF written by the registry's own writer (any valid PDF will do)."""
    from registry import receiptpdf

    return receiptpdf.render(text, [], [("Texto", text)], "-", ["-"], [], [])


@pytest.fixture
def login(ctx: Context, live: Any) -> Iterator[Callable[[Principal], httpx.Client]]:
    """A client of the live server logged in as the given principal."""
    clients: list[httpx.Client] = []

    def make(p: Principal) -> httpx.Client:
        sid = ctx.login_sessions.open(p)
        c = live.client(cookies={SESSION_COOKIE: sid})
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def citizen(login: Callable[[Principal], httpx.Client], demo_code: str) -> httpx.Client:
    return login(principal(demo_code))


@pytest.fixture
def registrar(login: Callable[[Principal], httpx.Client], demo_code: str) -> httpx.Client:
    return login(principal(demo_code, capacity="employee", nif="00000001R",
                           roles=("registrar",), name="Rosa Registradora"))


def entry_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "epigrafe": "Instancia general",
        "subject": "Solicitud de licencia de obra menor",
        "destination_unit": "LA0099902",
        "sia_code": "2117836",
        "expediente": "2026/URB/0042",
        "expone": "Que desea reformar la cocina de su vivienda.",
        "solicita": "Que se le conceda licencia de obra menor.",
    }
    body.update(overrides)
    return body


def submit(client: httpx.Client, municipality: str, body: dict[str, Any] | None = None, *,
           files: list[tuple[str, bytes, str]] = (), kind: str = "entries",
           headers: dict[str, str] | None = None) -> httpx.Response:
    parts: list[tuple[str, Any]] = [
        ("entry", (None, json.dumps(body if body is not None else entry_body()))),
    ]
    parts += [("attachments", (name, io.BytesIO(data), mime)) for name, data, mime in files]
    return client.post(f"/registry/{municipality}/{kind}", files=parts, headers=headers or {})
