"""Client authentication beyond secrets: private_key_jwt (RFC 7523) and mutual TLS with
certificate-bound access tokens (RFC 8705)."""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from api.context import Context
from identity.oidc import certificate_thumbprint
from identity.oidc.clientauth import MAX_ASSERTION_LENGTH
from tests.conftest import LiveServer
from tests.oidc.conftest import (
    CALLBACK,
    Browser,
    Rp,
    add_client,
    code_for,
    make_principal,
    tls_client,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion(key: ECKey | OctKey | RSAKey, client_id: str, aud: str, alg: str = "ES256",
              **claims: object) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60,
            "jti": secrets.token_urlsafe(12), **claims}
    return jwt.encode({"alg": alg}, body, key, algorithms=[alg])


def test_private_key_jwt(browser: Browser, ctx: Context, demo_code: str) -> None:
    key = ECKey.generate_key("P-256", private=True)
    rp = add_client(ctx, demo_code, client_id="jwt-app",
                    token_endpoint_auth_method="private_key_jwt",
                    jwks={"keys": [key.as_dict(private=False)]})
    assert rp.secret is None
    browser.login_as(make_principal(demo_code))
    token_url = f"{ctx.settings.public_url}/oidc/token"

    def exchange(client_assertion: str) -> httpx.Response:
        code, _ = code_for(browser, rp)
        return browser.http.post("/oidc/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": rp.client_id, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion})

    good = assertion(key, rp.client_id, token_url)
    assert exchange(good).status_code == 200
    replay = exchange(good)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    stranger = ECKey.generate_key("P-256", private=True)
    assert exchange(assertion(stranger, rp.client_id, token_url)).status_code == 401
    wrong_aud = assertion(key, rp.client_id, "https://elsewhere.example/token")
    assert exchange(wrong_aud).status_code == 401
    expired = assertion(key, rp.client_id, token_url, exp=int(time.time()) - 120)
    assert exchange(expired).status_code == 401
    too_long = assertion(key, rp.client_id, token_url, exp=int(time.time()) + 86400)
    assert exchange(too_long).status_code == 401
    # An HMAC assertion keyed with the public JWK is algorithm confusion: refused.
    hmac_key = OctKey.import_key(str(key.as_dict(private=False)).encode())
    assert exchange(assertion(hmac_key, rp.client_id, token_url, alg="HS256")).status_code == 401


def _cert_header(path: str) -> str:
    return quote(open(path).read())


def test_mtls_client_gets_certificate_bound_access_tokens(live: LiveServer, ctx: Context,
                                                          demo_code: str) -> None:
    """Over a trusted TLS-terminating proxy (127.0.0.2 in the test settings)."""
    seal_pem = ctx.pki.seal_paths(demo_code)[1]
    cert = x509.load_pem_x509_certificates(seal_pem.read_bytes())[0]
    other_pem = ctx.settings.pki_dir / "people" / "citizen.pem"
    rp = add_client(ctx, demo_code, client_id="mtls-app",
                    token_endpoint_auth_method="tls_client_auth",
                    tls_certificate_thumbprint=certificate_thumbprint(cert))
    header = ctx.settings.client_cert_header
    mine = {header: quote(cert.public_bytes(serialization.Encoding.PEM).decode())}
    theirs = {header: _cert_header(str(other_pem))}

    proxy = httpx.Client(base_url=live.url, timeout=30,
                         transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    direct = live.client()
    browser = Browser(live.client(), ctx)
    with proxy, direct, browser.http:
        browser.login_as(make_principal(demo_code))

        def redeem_with(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
            code, _ = code_for(browser, rp)
            return client.post("/oidc/token", headers=headers, data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "client_id": rp.client_id})

        assert redeem_with(proxy, theirs).status_code == 401
        assert redeem_with(proxy, {}).status_code == 401
        # The header counts only from a trusted proxy: sent directly, it is ignored.
        assert redeem_with(direct, mine).status_code == 401
        ok = redeem_with(proxy, mine)
        assert ok.status_code == 200, ok.text
        at = ok.json()["access_token"]
        auth = {"Authorization": f"Bearer {at}"}
        assert proxy.get("/oidc/userinfo", headers={**auth, **mine}).status_code == 200
        stolen = proxy.get("/oidc/userinfo", headers={**auth, **theirs})
        assert stolen.status_code == 401
        assert direct.get("/oidc/userinfo", headers=auth).status_code == 401
        intro = proxy.post("/oidc/introspect", headers=mine,
                           data={"token": at, "client_id": rp.client_id})
        assert intro.json()["cnf"] == {"x5t#S256": certificate_thumbprint(cert)}


def test_mtls_over_the_https_listener(https_listener: str, ctx: Context,
                                      demo_code: str) -> None:
    """RFC 8705 end to end over real TLS: client authentication and bound tokens."""
    key_pem, chain_pem, _ = ctx.pki.seal_paths(demo_code)
    cert = x509.load_pem_x509_certificates(chain_pem.read_bytes())[0]
    rp = add_client(ctx, demo_code, client_id="mtls-tls-app",
                    token_endpoint_auth_method="tls_client_auth",
                    tls_certificate_thumbprint=certificate_thumbprint(cert))
    with (tls_client(ctx, cert=(chain_pem, key_pem), base_url=https_listener) as app_tls,
          tls_client(ctx, "citizen", base_url=https_listener) as other_tls,
          tls_client(ctx, base_url=https_listener) as no_cert):
        browser = Browser(no_cert, ctx)
        browser.login_as(make_principal(demo_code))
        code, _ = code_for(browser, rp)
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "client_id": rp.client_id}
        assert other_tls.post("/oidc/token", data=data).status_code == 401
        ok = app_tls.post("/oidc/token", data=data)
        assert ok.status_code == 200, ok.text
        auth = {"Authorization": f"Bearer {ok.json()['access_token']}"}
        assert app_tls.get("/oidc/userinfo", headers=auth).status_code == 200
        assert other_tls.get("/oidc/userinfo", headers=auth).status_code == 401
        assert no_cert.get("/oidc/userinfo", headers=auth).status_code == 401


@pytest.fixture
def jwt_client(ctx: Context, demo_code: str) -> tuple[ECKey, Rp]:
    key = ECKey.generate_key("P-256", private=True)
    rp = add_client(ctx, demo_code, client_id="jwt-strict",
                    token_endpoint_auth_method="private_key_jwt",
                    jwks={"keys": [key.as_dict(private=False)]})
    return key, rp


def introspect_with(http: httpx.Client, rp: Rp, client_assertion: str) -> httpx.Response:
    return http.post("/oidc/introspect", data={
        "token": "x", "client_id": rp.client_id, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion})


def test_client_assertion_audience_is_exactly_the_issuer_or_the_endpoint(
        client: TestClient, ctx: Context, jwt_client: tuple[ECKey, Rp]) -> None:
    key, rp = jwt_client
    issuer = ctx.settings.public_url
    endpoint = f"{issuer}/oidc/introspect"

    def status(aud: object) -> int:
        return introspect_with(client, rp, assertion(key, rp.client_id, aud)).status_code  # type: ignore[arg-type]

    assert status(endpoint) == 200
    assert status(issuer) == 200
    assert status([endpoint]) == 200
    # Several audiences, or another endpoint's URL, are how assertions get replayed.
    assert status([endpoint, "https://other.example/token"]) == 401
    assert status([issuer, endpoint]) == 401
    assert status(f"{issuer}/oidc/token") == 401
    assert status([]) == 401
    assert status(f"{issuer}/") == 401


def test_client_assertion_times_and_identity(client: TestClient, ctx: Context,
                                             jwt_client: tuple[ECKey, Rp]) -> None:
    key, rp = jwt_client
    aud = f"{ctx.settings.public_url}/oidc/introspect"
    now = int(time.time())

    def status(**claims: object) -> int:
        return introspect_with(client, rp, assertion(key, rp.client_id, aud,
                                                     **claims)).status_code

    assert status() == 200
    assert status(iat=now + 120, exp=now + 300) == 401            # issued in the future
    assert status(iat=now - 86400, exp=now + 60) == 401           # a day-long lifetime
    assert status(nbf=now + 3600) == 401                          # not valid yet
    assert status(iat="yesterday") == 401
    assert status(exp=True) == 401
    assert status(sub="someone-else") == 401
    assert status(iss="someone-else") == 401
    single = assertion(key, rp.client_id, aud)
    assert introspect_with(client, rp, single).status_code == 200
    replayed = introspect_with(client, rp, single)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"
    oversized = assertion(key, rp.client_id, aud, pad="x" * MAX_ASSERTION_LENGTH)
    too_big = introspect_with(client, rp, oversized)
    assert too_big.status_code == 401 and too_big.json()["error"] == "invalid_client"


def test_a_client_assertion_outside_the_algorithm_allow_list_is_refused(
        client: TestClient, ctx: Context, demo_code: str) -> None:
    key = RSAKey.generate_key(2048, private=True)
    rp = add_client(ctx, demo_code, client_id="rsa-jwt",
                    token_endpoint_auth_method="private_key_jwt",
                    jwks={"keys": [key.as_dict(private=False)]})
    aud = f"{ctx.settings.public_url}/oidc/introspect"
    assert introspect_with(client, rp, assertion(key, rp.client_id, aud, alg="RS256")
                           ).status_code == 200
    for alg in ("RS512", "PS512", "RS384"):
        assert introspect_with(client, rp, assertion(key, rp.client_id, aud, alg=alg)
                               ).status_code == 401, alg
