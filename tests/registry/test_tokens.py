"""The registry through OIDC access tokens: apps acting for a person, and apps acting
as themselves to register exits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from api.context import Context
from identity.sessions import Principal
from tests.logins import Browser, Rp, add_client, code_for, redeem
from tests.registry.conftest import OTHER_NIF, entry_body, principal, submit

ADDRESSEE = {"id_type": "NIF", "id_number": OTHER_NIF, "name": "Vecino Destinatario"}


@pytest.fixture
def anonymous(live: Any) -> Iterator[httpx.Client]:
    with live.client() as c:
        yield c


def person_token(ctx: Context, live: Any, rp: Rp, who: Principal, scope: str) -> str:
    """What a municipal web app holds after the person logs in and consents."""
    with live.client() as http:
        browser = Browser(http, ctx)
        browser.login_as(who)
        code, _ = code_for(browser, rp, scope=scope)
        res = redeem(http, rp, code)
        assert res.status_code == 200, res.text
        return str(res.json()["access_token"])


def app_token(http: httpx.Client, rp: Rp, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    res = http.post("/oidc/token", data=form, auth=rp.basic)
    assert res.status_code == 200, res.text
    return str(res.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def entry_count(registrar: httpx.Client, municipality: str) -> int:
    return len(registrar.get(f"/registry/{municipality}/entries").json()["entries"])


@pytest.fixture
def portal(ctx: Context, demo_code: str) -> Rp:
    """The town's procedures app, registered for the delegated registry scope."""
    return add_client(ctx, demo_code, client_id="tramites", name="Trámites municipales",
                      scopes=["openid", "profile", "registry"])


@pytest.fixture
def notifier(ctx: Context, demo_code: str) -> Rp:
    """A municipal application that sends official communications (exits) as itself."""
    return add_client(ctx, demo_code, client_id="notificaciones", name="Notificaciones",
                      scopes=["openid", "registry:exits"])


def test_an_app_files_an_entry_for_the_citizen_who_granted_the_registry_scope(
    ctx: Context, live: Any, anonymous: httpx.Client, portal: Rp, demo_code: str,
    login: Callable[[Principal], httpx.Client],
) -> None:
    citizen = principal(demo_code)
    token = person_token(ctx, live, portal, citizen, "openid profile registry")
    res = submit(anonymous, demo_code, headers=bearer(token))
    assert res.status_code == 201, res.text
    entry = res.json()
    assert entry["presenter"]["id_number"] == citizen.identity["nif"]
    assert entry["registrar"] is None
    # The app reads it back with the token, and the citizen sees it in their own session.
    listed = anonymous.get(f"/registry/{demo_code}/entries", headers=bearer(token)).json()
    assert [e["id"] for e in listed["entries"]] == [entry["id"]]
    own = login(citizen).get(f"/registry/{demo_code}/entries/{entry['id']}")
    assert own.status_code == 200 and own.json()["number"] == entry["number"]


def test_tokens_without_the_registry_scope_or_forged_ones_register_nothing(
    ctx: Context, live: Any, anonymous: httpx.Client, portal: Rp, demo_code: str,
    registrar: httpx.Client,
) -> None:
    before = entry_count(registrar, demo_code)
    plain = person_token(ctx, live, portal, principal(demo_code), "openid profile")
    res = submit(anonymous, demo_code, headers=bearer(plain))
    assert res.status_code == 403, res.text
    assert res.json()["code"] == "insufficient_scope"
    assert res.json()["required_scope"] == "registry"

    good = person_token(ctx, live, portal, principal(demo_code), "openid registry")
    head, body, sig = good.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    for token in (tampered, "not-a-jwt"):
        res = submit(anonymous, demo_code, headers=bearer(token))
        assert res.status_code == 401 and res.json()["code"] == "invalid_token", res.text
    # A bad token is refused even when a valid session cookie rides along.
    res = submit(registrar, demo_code, headers=bearer(tampered))
    assert res.status_code == 401
    assert entry_count(registrar, demo_code) == before


def test_a_civil_servant_token_carries_no_registrar_powers(
    ctx: Context, live: Any, anonymous: httpx.Client, portal: Rp, demo_code: str,
) -> None:
    clerk = principal(demo_code, capacity="employee", nif="00000001R", roles=("registrar",),
                      entity_cif="P0199900A", entity_name="Ayuntamiento")
    token = person_token(ctx, live, portal, clerk, "openid registry")
    for_someone = submit(anonymous, demo_code, entry_body(presenter=ADDRESSEE),
                         headers=bearer(token))
    assert for_someone.status_code == 403, for_someone.text
    exit_body = entry_body(destination_unit=None, interested=[ADDRESSEE])
    assert submit(anonymous, demo_code, exit_body, kind="exits",
                  headers=bearer(token)).status_code == 403
    search = anonymous.get(f"/registry/{demo_code}/entries", params={"party": OTHER_NIF},
                           headers=bearer(token))
    assert search.status_code == 403
    # Through the app they file for themselves only, under their own NIF.
    own = submit(anonymous, demo_code, headers=bearer(token))
    assert own.status_code == 201, own.text
    assert own.json()["interested"] == [{"id_type": "NIF", "id_number": "00000001R",
                                         "name": "María García López"}]


def test_a_municipal_app_registers_exits_as_itself(
    anonymous: httpx.Client, notifier: Rp, demo_code: str, registrar: httpx.Client,
) -> None:
    token = app_token(anonymous, notifier)
    body = entry_body(destination_unit=None, subject="Notificación de resolución",
                      interested=[ADDRESSEE])
    res = submit(anonymous, demo_code, body, kind="exits", headers=bearer(token))
    assert res.status_code == 201, res.text
    exit_ = res.json()
    assert exit_["kind"] == "S" and "/S/" in exit_["number"]
    assert exit_["registrar"]["capacity"] == "application"
    assert exit_["registrar"]["name"] == "Notificaciones"
    assert exit_["interested"][0]["id_number"] == OTHER_NIF
    # The app reads back what it registered; the registrar finds it by number.
    mine = anonymous.get(f"/registry/{demo_code}/entries/{exit_['id']}", headers=bearer(token))
    assert mine.status_code == 200 and mine.json()["number"] == exit_["number"]
    found = registrar.get(f"/registry/{demo_code}/entries",
                          params={"number": exit_["number"]}).json()["entries"]
    assert [e["id"] for e in found] == [exit_["id"]]
    # The receipt is sealed like any other.
    pdf = anonymous.get(exit_["receipt"]["pdf"], headers=bearer(token))
    assert pdf.status_code == 200 and b"/ByteRange" in pdf.content


def test_an_app_acting_as_itself_registers_nothing_else(
    ctx: Context, anonymous: httpx.Client, notifier: Rp, demo_code: str, second_code: str,
    registrar: httpx.Client, citizen: httpx.Client,
) -> None:
    before = entry_count(registrar, demo_code)
    token = app_token(anonymous, notifier)
    # No entries: those are filed by people.
    res = submit(anonymous, demo_code, headers=bearer(token))
    assert res.status_code == 403 and res.json()["code"] == "registry_forbidden"
    # No other town hall's registry.
    exit_body = entry_body(destination_unit=None, interested=[ADDRESSEE])
    res = submit(anonymous, second_code, exit_body, kind="exits", headers=bearer(token))
    assert res.status_code == 403 and res.json()["code"] == "registry_forbidden"
    # No one else's entries: it sees only what it registered.
    theirs = submit(citizen, demo_code).json()
    assert anonymous.get(f"/registry/{demo_code}/entries/{theirs['id']}",
                         headers=bearer(token)).status_code == 404
    # A sealing app is not a registry app.
    sealer = add_client(ctx, demo_code, client_id="decretos", scopes=["openid", "seal"])
    res = submit(anonymous, demo_code, exit_body, kind="exits",
                 headers=bearer(app_token(anonymous, sealer)))
    assert res.status_code == 403 and res.json()["required_scope"] == "registry:exits"
    assert entry_count(registrar, demo_code) == before + 1


def test_registry_exits_is_never_granted_to_a_person_or_a_public_client(
    ctx: Context, live: Any, demo_code: str, anonymous: httpx.Client,
) -> None:
    from infra.errors import InvalidInput

    with pytest.raises(InvalidInput, match="confidential"):
        add_client(ctx, demo_code, client_id="movil", public=True,
                   scopes=["openid", "registry:exits"])
    both = add_client(ctx, demo_code, client_id="mixta",
                      scopes=["openid", "registry", "registry:exits"])
    token = person_token(ctx, live, both, principal(demo_code), "openid registry registry:exits")
    claims = anonymous.post("/oidc/introspect", data={"token": token}, auth=both.basic).json()
    assert claims["active"] and claims["scope"].split() == ["openid", "registry"]
