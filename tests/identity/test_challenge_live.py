"""Challenge–response against the live server with the demo PKI (live OCSP/CRL)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from api.context import Context
from tests.identity.conftest import TestPki, challenge_login


def demo_login(
    live: Any, ctx: Context, municipality: str, folder: str, name: str, **kw: Any
) -> Any:
    base = ctx.settings.pki_dir / folder
    key = load_pem_private_key((base / f"{name}.key.pem").read_bytes(), None)
    with live.client() as c:
        r = challenge_login(c, municipality, (base / f"{name}.pem").read_bytes(), key, **kw)
        me = c.get("/me") if r.status_code in (200, 303) else None
    return r, me


@pytest.mark.parametrize(("who", "code"), [("revoked", "revoked"), ("expired", "expired")])
def test_refusals(live: Any, ctx: Context, demo_code: str, who: str, code: str) -> None:
    r, _ = demo_login(live, ctx, demo_code, "people", who)
    assert r.status_code == 401 and r.json()["code"] == code


def test_unknown_ca(live: Any, demo_code: str) -> None:
    stranger = TestPki("Stranger").citizen()
    with live.client() as c:
        r = challenge_login(c, demo_code, stranger.pem, stranger.key)
    assert r.status_code == 401 and r.json()["code"] == "untrusted"


def test_citizen_gets_a_browser_cookie_over_plain_http(
    live: Any, ctx: Context, demo_code: str
) -> None:
    r, me = demo_login(live, ctx, demo_code, "people", "citizen", next_url="/me")
    assert r.status_code == 303 and r.headers["location"] == "/me"
    assert me is not None and me.json()["subject"] == "99999999R"
    assert me.json()["amr"] == ["x509", "pop"]


def test_electronic_seal_logs_in_as_its_entity(live: Any, ctx: Context, demo_code: str) -> None:
    r, me = demo_login(live, ctx, demo_code, "seals", demo_code)
    assert r.status_code == 200, r.text
    body = me.json()
    assert (body["capacity"], body["subject"]) == ("seal", "P2899900A")
    assert body["identity"]["system_name"]
