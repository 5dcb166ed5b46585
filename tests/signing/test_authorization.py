"""Who may apply a municipality's seal, and the public TSA's rate limit.

The same policy holds in every environment: a registrar of that municipality in a
login session, or that municipality's application with a ``seal`` access token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import api.routes.signing as signing_routes
from api.context import Context
from infra.errors import InvalidInput
from tests.logins import (
    Browser,
    Rp,
    add_client,
    code_for,
    login_demo_person,
    make_principal,
    redeem,
)

PROBLEM = "application/problem+json"
TSQ = {"Content-Type": "application/timestamp-query"}


def _seal(http: Any, pdf: bytes, municipality: str, **kw: Any) -> Any:
    return http.post("/signing/seal", data={"municipality": municipality, "level": "B-B"},
                     files={"document": ("a.pdf", pdf, "application/pdf")}, **kw)


def _assert_problem(res: Any, status: int, code: str) -> None:
    assert res.status_code == status, res.text
    assert res.headers["content-type"] == PROBLEM
    assert res.json()["code"] == code
    assert b"%PDF" not in res.content


def _sealed(res: Any) -> None:
    assert res.status_code == 200, res.text
    assert res.content.startswith(b"%PDF") and b"/ByteRange" in res.content


def _app_token(http: Any, rp: Rp, **form: str) -> Any:
    return http.post("/oidc/token", data={"grant_type": "client_credentials", **form},
                     auth=rp.basic)


@pytest.fixture
def seal_app(ctx: Context, demo_code: str) -> Rp:
    """A confidential application of the first demo municipality registered for ``seal``."""
    return add_client(ctx, demo_code, client_id="expedientes", name="Gestor de expedientes",
                      scopes=["openid", "seal"])


def test_anonymous_callers_are_unauthenticated(client, demo_code: str,
                                               one_page_pdf: bytes) -> None:
    _assert_problem(_seal(client, one_page_pdf, demo_code), 401, "unauthenticated")
    res = client.post("/signing/extend", data={"municipality": demo_code, "level": "B-T"},
                      files={"document": ("a.pdf", one_page_pdf)})
    _assert_problem(res, 401, "unauthenticated")


def test_a_citizen_session_may_not_seal(client, ctx: Context, live, demo_code: str,
                                        one_page_pdf: bytes) -> None:
    login_demo_person(client, ctx, "citizen", demo_code)
    _assert_problem(_seal(client, one_page_pdf, demo_code), 403, "sealing_not_authorized")


@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_registrar_seals_only_for_their_own_municipality(
        registrar, ctx: Context, demo_code: str, second_code: str, one_page_pdf: bytes,
        monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    monkeypatch.setattr(ctx.settings, "environment", environment)
    _assert_problem(_seal(registrar, one_page_pdf, second_code), 403, "sealing_not_authorized")
    _sealed(_seal(registrar, one_page_pdf, demo_code))


def test_an_employee_without_the_registrar_role_may_not_seal(
        client, ctx: Context, live, second_code: str, one_page_pdf: bytes) -> None:
    # The demo employee holds no role in the second municipality.
    login_demo_person(client, ctx, "employee", second_code)
    _assert_problem(_seal(client, one_page_pdf, second_code), 403, "sealing_not_authorized")


def test_an_application_with_the_seal_scope_seals_for_its_municipality(
        client, seal_app: Rp, demo_code: str, second_code: str, one_page_pdf: bytes) -> None:
    got = _app_token(client, seal_app)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["scope"] == "seal" and "refresh_token" not in body and "id_token" not in body
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    _sealed(_seal(client, one_page_pdf, demo_code, headers=bearer))
    _assert_problem(_seal(client, one_page_pdf, second_code, headers=bearer), 403,
                    "sealing_not_authorized")
    # Revoked by the application: the token stops working at once.
    assert client.post("/oidc/revoke", data={"token": body["access_token"]},
                       auth=seal_app.basic).status_code == 200
    _assert_problem(_seal(client, one_page_pdf, demo_code, headers=bearer), 401,
                    "unauthenticated")


def test_a_token_without_the_seal_scope_is_forbidden(
        ctx: Context, client, demo_code: str, one_page_pdf: bytes) -> None:
    """A person's access token for a municipal app (code flow) is not a seal credential,
    even if the app is registered for ``seal``: that scope is never granted on a person's
    behalf."""
    app = add_client(ctx, demo_code, client_id="portal-sede", scopes=["openid", "seal"])
    browser = Browser(client, ctx)
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, app, scope="openid seal")
    tokens = redeem(client, app, code).json()
    assert tokens["scope"] == "openid"
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    _assert_problem(_seal(client, one_page_pdf, demo_code, headers=bearer), 403,
                    "sealing_not_authorized")


def test_client_credentials_is_for_confidential_clients_and_registered_scopes(
        ctx: Context, client, demo_code: str) -> None:
    plain = add_client(ctx, demo_code, client_id="agenda")  # default scopes: no seal
    res = _app_token(client, plain)
    assert res.status_code == 400 and res.json()["error"] == "invalid_scope"
    res = _app_token(client, plain, scope="seal")
    assert res.status_code == 400 and res.json()["error"] == "invalid_scope"
    sealer = add_client(ctx, demo_code, client_id="decretos", scopes=["openid", "seal"])
    res = _app_token(client, sealer, scope="openid seal")
    assert res.status_code == 400 and res.json()["error"] == "invalid_scope"
    public = add_client(ctx, demo_code, client_id="movil", public=True)
    res = client.post("/oidc/token", data={"grant_type": "client_credentials",
                                           "client_id": public.client_id})
    assert res.status_code == 400 and res.json()["error"] == "unauthorized_client"
    with pytest.raises(InvalidInput, match="confidential"):
        add_client(ctx, demo_code, client_id="movil-2", public=True, scopes=["openid", "seal"])
    meta = client.get("/.well-known/openid-configuration").json()
    assert "client_credentials" in meta["grant_types_supported"]
    assert "seal" in meta["scopes_supported"]


def _b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_forged_tokens_are_unauthenticated(client, ctx: Context, seal_app: Rp, demo_code: str,
                                           one_page_pdf: bytes) -> None:
    import hashlib
    import hmac

    genuine = _app_token(client, seal_app).json()["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(genuine.split(".")[1] + "=="))
    # alg=none: the same claims, no signature.
    none = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."
    # HS256 keyed with the provider's published RSA public key (algorithm confusion).
    jwk = next(k for k in client.get("/oidc/jwks").json()["keys"] if k["kty"] == "RSA")
    from joserfc.jwk import RSAKey

    pem = RSAKey.import_key(jwk).get_op_key("verify").public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    head = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': jwk['kid']})}.{_b64(claims)}"
    mac = hmac.new(pem, head.encode(), hashlib.sha256).digest()
    hs256 = f"{head}.{_b64(mac)}"
    # The genuine signature over widened claims (another municipality's app).
    tampered = f"{genuine.split('.')[0]}.{_b64({**claims, 'client_id': 'x'})}." \
               f"{genuine.split('.')[2]}"
    for token in (none, hs256, tampered, "not-a-token"):
        res = _seal(client, one_page_pdf, demo_code,
                    headers={"Authorization": f"Bearer {token}"})
        _assert_problem(res, 401, "unauthenticated")
    res = _seal(client, one_page_pdf, demo_code, headers={"Authorization": f"Basic {genuine}"})
    _assert_problem(res, 401, "unauthenticated")


def test_the_tsa_is_public_but_rate_limited_per_address(
        client, monkeypatch: pytest.MonkeyPatch, one_page_pdf: bytes) -> None:
    import hashlib

    from asn1crypto import algos, tsp

    monkeypatch.setattr(signing_routes, "TIMESTAMP_RATE_LIMIT",
                        signing_routes.RateLimit(requests=3, window_seconds=60))
    tsq = tsp.TimeStampReq({"version": 1, "message_imprint": {
        "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "hashed_message": hashlib.sha256(b"acta").digest()}, "cert_req": True}).dump()
    for _ in range(2):
        assert client.post("/tsa", content=tsq, headers=TSQ).status_code == 200
    # /signing/timestamp shares the quota with /tsa.
    res = client.post("/signing/timestamp", files={"document": ("a.pdf", one_page_pdf)})
    assert res.status_code == 200, res.text
    res = client.post("/tsa", content=tsq, headers=TSQ)
    _assert_problem(res, 429, "too_many_requests")
    assert 1 <= int(res.headers["retry-after"]) <= 60
    res = client.post("/signing/timestamp", files={"document": ("a.pdf", one_page_pdf)})
    _assert_problem(res, 429, "too_many_requests")
