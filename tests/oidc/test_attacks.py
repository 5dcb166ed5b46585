"""The negative cases of the Basic OP checklist, and a few more, through the HTTP API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import RSAKey

from api.context import Context
from tests.conftest import LiveServer
from tests.oidc.conftest import (
    CALLBACK,
    Browser,
    Rp,
    add_client,
    callback_params,
    code_for,
    make_principal,
    pkce,
    redeem,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def userinfo_status(http: httpx.Client, token: str) -> int:
    return http.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def introspect(http: httpx.Client, rp: Rp, token: str) -> dict:
    r = http.post("/oidc/introspect", auth=rp.basic, data={"token": token})
    assert r.status_code == 200, r.text
    return dict(r.json())


def refresh(http: httpx.Client, rp: Rp, token: str):  # type: ignore[no-untyped-def]
    return http.post("/oidc/token", auth=rp.basic,
                     data={"grant_type": "refresh_token", "refresh_token": token})


@pytest.fixture
def logged_in(browser: Browser, demo_code: str) -> Browser:
    browser.login_as(make_principal(demo_code))
    return browser


OFFLINE = "openid profile offline_access"


def test_a_reused_code_is_rejected_and_its_tokens_revoked(logged_in: Browser, rp: Rp) -> None:
    http = logged_in.http
    code, _ = code_for(logged_in, rp, scope=OFFLINE)
    first = redeem(http, rp, code)
    assert first.status_code == 200
    tokens = first.json()
    assert userinfo_status(http, tokens["access_token"]) == 200
    second = redeem(http, rp, code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert userinfo_status(http, tokens["access_token"]) == 401
    assert refresh(http, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert introspect(http, rp, tokens["access_token"]) == {"active": False}


def test_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
        logged_in: Browser, rp: Rp) -> None:
    for uri in ("https://evil.example/callback", CALLBACK + "/", CALLBACK + "?x=1",
                CALLBACK.upper(), "http://127.0.0.1:8080/callback#frag", ""):
        r = logged_in.authorize(Rp(rp.client_id, rp.secret, rp.municipality, uri))
        assert r.status_code == 400, uri
        assert "location" not in r.headers
        assert "text/html" in r.headers["content-type"]
    unknown = logged_in.get("/oidc/authorize", params={
        "client_id": "nobody", "redirect_uri": CALLBACK, "response_type": "code",
        "scope": "openid"})
    assert unknown.status_code == 400 and "location" not in unknown.headers


def test_redirect_uri_must_match_at_the_token_endpoint(ctx: Context, logged_in: Browser,
                                                       demo_code: str) -> None:
    two = add_client(ctx, demo_code, client_id="two-uris",
                     redirect_uris=[CALLBACK, "https://app.example/cb"])
    code, _ = code_for(logged_in, two)
    r = logged_in.http.post("/oidc/token", auth=two.basic, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example/cb"})
    assert r.json()["error"] == "invalid_grant"


def test_errors_after_the_client_is_known_redirect_to_the_registered_uri(
        logged_in: Browser, rp: Rp) -> None:
    got = callback_params(logged_in.authorize(rp, response_type="token"))
    assert got["error"] == "unsupported_response_type" and got["state"] == "st-1"
    assert got["iss"] == logged_in.ctx.settings.public_url
    assert callback_params(logged_in.authorize(rp, scope="profile"))["error"] == "invalid_scope"
    assert callback_params(logged_in.authorize(rp, prompt="none login"))["error"] == (
        "invalid_request")
    _, challenge = pkce()
    plain = callback_params(logged_in.authorize(rp, code_challenge=challenge,
                                                code_challenge_method="plain"))
    assert plain["error"] == "invalid_request"
    assert callback_params(logged_in.authorize(rp, request="eyJ.x.y"))["error"] == (
        "request_not_supported")
    assert callback_params(logged_in.authorize(rp, request_uri="https://x.example/r"))[
        "error"] == "request_uri_not_supported"


def test_a_missing_or_wrong_pkce_verifier_is_rejected(logged_in: Browser, rp: Rp) -> None:
    verifier, challenge = pkce()
    code, _ = code_for(logged_in, rp, code_challenge=challenge, code_challenge_method="S256")
    missing = redeem(logged_in.http, rp, code)
    assert missing.json()["error"] == "invalid_grant"
    code, _ = code_for(logged_in, rp, code_challenge=challenge, code_challenge_method="S256")
    wrong = redeem(logged_in.http, rp, code, code_verifier=pkce()[0])
    assert wrong.json()["error"] == "invalid_grant"
    code, _ = code_for(logged_in, rp, code_challenge=challenge, code_challenge_method="S256")
    assert redeem(logged_in.http, rp, code, code_verifier=verifier).status_code == 200
    # A verifier without a challenge is a downgrade attempt, not a harmless extra.
    code, _ = code_for(logged_in, rp)
    assert redeem(logged_in.http, rp, code, code_verifier=verifier).json()["error"] == (
        "invalid_grant")


def test_a_bad_client_secret_is_rejected(logged_in: Browser, rp: Rp) -> None:
    code, _ = code_for(logged_in, rp)
    http = logged_in.http
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    bad = http.post("/oidc/token", auth=(rp.client_id, "not-the-secret"), data=data)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert bad.headers["www-authenticate"].startswith("Basic")
    # The right secret by a method the client did not register is refused too.
    post = http.post("/oidc/token", data={**data, "client_id": rp.client_id,
                                          "client_secret": rp.secret})
    assert post.status_code == 401
    both = http.post("/oidc/token", auth=rp.basic, data={**data, "client_secret": rp.secret})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    # A failed client authentication does not burn the code.
    assert redeem(http, rp, code).status_code == 200


def test_client_secret_post(ctx: Context, logged_in: Browser, demo_code: str) -> None:
    rp = add_client(ctx, demo_code, client_id="post-app",
                    token_endpoint_auth_method="client_secret_post")
    code, _ = code_for(logged_in, rp)
    r = logged_in.http.post("/oidc/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "client_id": rp.client_id, "client_secret": rp.secret})
    assert r.status_code == 200, r.text


def test_an_expired_code_is_rejected(logged_in: Browser, rp: Rp, ctx: Context,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx.oidc, "config", replace(ctx.oidc.config, code_ttl=1))
    code, _ = code_for(logged_in, rp)
    time.sleep(1.2)
    r = redeem(logged_in.http, rp, code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def _forge(token: str, header: dict, sign) -> str:  # type: ignore[no-untyped-def]
    payload = token.split(".")[1]
    signing_input = f"{b64(json.dumps(header).encode())}.{payload}"
    return f"{signing_input}.{sign(signing_input.encode())}"


def test_alg_none_and_hs256_with_the_public_key_are_rejected(logged_in: Browser,
                                                             rp: Rp) -> None:
    http = logged_in.http
    code, _ = code_for(logged_in, rp)
    real = redeem(http, rp, code).json()["access_token"]
    kid = json.loads(base64.urlsafe_b64decode(real.split(".")[0] + "=="))["kid"]
    jwk = next(k for k in http.get("/oidc/jwks").json()["keys"] if k["kid"] == kid)
    public_pem = RSAKey.import_key(jwk).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    none = _forge(real, {"alg": "none", "typ": "at+jwt", "kid": kid}, lambda _: "")
    hs256 = _forge(real, {"alg": "HS256", "typ": "at+jwt", "kid": kid},
                   lambda data: b64(hmac.new(public_pem, data, hashlib.sha256).digest()))
    hs256_jwk = _forge(real, {"alg": "HS256", "typ": "at+jwt", "kid": kid},
                       lambda data: b64(hmac.new(json.dumps(jwk).encode(), data,
                                                 hashlib.sha256).digest()))
    other_key = RSAKey.generate_key(2048, parameters={"kid": kid})
    foreign = _forge(real, {"alg": "RS256", "typ": "at+jwt", "kid": kid},
                     lambda data: b64(other_key.private_key.sign(  # type: ignore[union-attr]
                         data, padding.PKCS1v15(), hashes.SHA256())))
    assert userinfo_status(http, real) == 200
    for forged in (none, hs256, hs256_jwk, foreign, real[:-4] + "AAAA"):
        r = http.get("/oidc/userinfo", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        assert http.post("/oidc/userinfo", data={"access_token": forged}).status_code == 401
        assert introspect(http, rp, forged) == {"active": False}


def test_an_id_token_is_not_an_access_token(logged_in: Browser, rp: Rp) -> None:
    code, _ = code_for(logged_in, rp)
    id_token = redeem(logged_in.http, rp, code).json()["id_token"]
    assert userinfo_status(logged_in.http, id_token) == 401


def test_refresh_token_reuse_revokes_the_family(logged_in: Browser, rp: Rp) -> None:
    http = logged_in.http
    code, _ = code_for(logged_in, rp, scope=OFFLINE)
    first = redeem(http, rp, code).json()
    second = refresh(http, rp, first["refresh_token"]).json()
    third = refresh(http, rp, second["refresh_token"]).json()
    assert userinfo_status(http, third["access_token"]) == 200
    reused = refresh(http, rp, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The whole family is gone: the newest refresh and access tokens too.
    assert refresh(http, rp, third["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo_status(http, third["access_token"]) == 401
    assert introspect(http, rp, third["refresh_token"]) == {"active": False}


def test_a_refresh_token_of_another_client_is_refused(ctx: Context, logged_in: Browser, rp: Rp,
                                                      demo_code: str) -> None:
    other = add_client(ctx, demo_code, client_id="other-app")
    code, _ = code_for(logged_in, rp, scope=OFFLINE)
    tokens = redeem(logged_in.http, rp, code).json()
    assert refresh(logged_in.http, other, tokens["refresh_token"]).json()["error"] == (
        "invalid_grant")
    assert refresh(logged_in.http, rp, tokens["refresh_token"]).json()["error"] == (
        "invalid_grant")


def test_introspection_needs_an_authenticated_client_of_the_same_town(
        ctx: Context, logged_in: Browser, rp: Rp, second_code: str) -> None:
    http = logged_in.http
    code, _ = code_for(logged_in, rp, scope=OFFLINE)
    tokens = redeem(http, rp, code).json()
    anonymous = http.post("/oidc/introspect", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    public = http.post("/oidc/introspect", data={"token": tokens["access_token"],
                                                 "client_id": "demo-portal"})
    assert public.status_code == 401
    live = introspect(http, rp, tokens["access_token"])
    assert live["active"] is True and live["client_id"] == rp.client_id
    assert set(live["scope"].split()) == {"openid", "profile", "offline_access"}
    assert introspect(http, rp, tokens["refresh_token"])["active"] is True
    elsewhere = add_client(ctx, second_code, client_id="elsewhere")
    assert introspect(http, elsewhere, tokens["access_token"]) == {"active": False}


def test_revocation(logged_in: Browser, rp: Rp) -> None:
    http = logged_in.http
    code, _ = code_for(logged_in, rp, scope=OFFLINE)
    tokens = redeem(http, rp, code).json()
    r = http.post("/oidc/revoke", auth=rp.basic, data={"token": tokens["access_token"]})
    assert r.status_code == 200
    assert userinfo_status(http, tokens["access_token"]) == 401
    assert refresh(http, rp, tokens["refresh_token"]).status_code == 200   # only that AT

    code, _ = code_for(logged_in, rp, scope=OFFLINE)
    tokens = redeem(http, rp, code).json()
    assert http.post("/oidc/revoke", auth=rp.basic,
                     data={"token": tokens["refresh_token"]}).status_code == 200
    assert refresh(http, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo_status(http, tokens["access_token"]) == 401
    # Unknown tokens are accepted silently (RFC 7009 §2.2); bad credentials are not.
    assert http.post("/oidc/revoke", auth=rp.basic, data={"token": "nope"}).status_code == 200
    assert http.post("/oidc/revoke", auth=(rp.client_id, "x"),
                     data={"token": "nope"}).status_code == 401


def test_consent_form_needs_its_csrf_token_and_the_same_session(
        browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    page = browser.authorize(rp, consent=False)
    action = page.text.split('action="', 1)[1].split('"', 1)[0]
    forged = browser.http.post(action, data={"csrf": "guess", "decision": "allow"},
                               follow_redirects=False)
    assert forged.status_code == 403 and "location" not in forged.headers
    browser.login_as(make_principal(demo_code, subject="00000000T"))   # another session
    other = browser.submit_consent(page, "allow")
    assert other.status_code == 403 and "location" not in other.headers


def test_duplicate_parameters_are_refused(logged_in: Browser, rp: Rp) -> None:
    r = logged_in.http.get(
        f"/oidc/authorize?client_id={rp.client_id}&client_id={rp.client_id}"
        f"&redirect_uri={CALLBACK}&response_type=code&scope=openid", follow_redirects=False)
    assert r.status_code == 400 and "location" not in r.headers


def test_oversized_parameters_are_refused(logged_in: Browser, rp: Rp) -> None:
    r = logged_in.authorize(rp, state="x" * 3000)
    assert r.status_code == 400 and "location" not in r.headers


def test_concurrent_redemptions_of_one_code_yield_one_grant_then_revoke_it(
        live: LiveServer, ctx: Context, rp: Rp, demo_code: str) -> None:
    """Single use holds across threads (and workers: the gate is the state store)."""
    browser = Browser(live.client(), ctx)
    with browser.http:
        browser.login_as(make_principal(demo_code))
        code, _ = code_for(browser, rp)

        def attempt(_: int) -> httpx.Response:
            with live.client() as http:
                return redeem(http, rp, code)

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(attempt, range(8)))
        winners = [r for r in results if r.status_code == 200]
        assert len(winners) == 1
        assert all(r.json()["error"] == "invalid_grant" for r in results if r not in winners)
        # The losers were reuses: what the winner got is revoked.
        at = winners[0].json()["access_token"]
        assert browser.http.get("/oidc/userinfo",
                                headers={"Authorization": f"Bearer {at}"}).status_code == 401


NASTY = ["", " ", "\x00", "%", "null", "[]", "{}", '{"id_token": 5}',
         '{"id_token": {"acr": {"essential": true, "values": 7}}}', "a" * 5000, "ñ€𝄞",
         "Basic !!!", "Bearer", "eyJhbGciOiJub25lIn0.e30.", "a.b.c", "-1", "9" * 40]


def test_garbage_never_causes_a_server_error(logged_in: Browser, rp: Rp) -> None:
    http = logged_in.http
    for value in NASTY:
        for name in ("client_id", "redirect_uri", "scope", "claims", "max_age", "prompt",
                     "code_challenge", "id_token_hint", "response_type"):
            params = {"client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
                      "response_type": "code", "scope": "openid", name: value}
            r = http.get("/oidc/authorize", params=params, follow_redirects=False)
            assert r.status_code < 500, (name, value)
        for path in ("/oidc/token", "/oidc/introspect", "/oidc/revoke"):
            for form in ({"grant_type": value, "code": value},
                         {"grant_type": "refresh_token", "refresh_token": value},
                         {"token": value, "client_assertion": value,
                          "client_assertion_type": value}):
                header = value if value.isascii() and value.isprintable() else "Basic x"
                r = http.post(path, data=form, headers={"Authorization": header})
                assert r.status_code < 500, (path, form)
        if value.isascii() and value.isprintable():
            assert http.get("/oidc/userinfo",
                            headers={"Authorization": f"Bearer {value}"}).status_code < 500
        assert http.post("/oidc/userinfo", data={"access_token": value}).status_code < 500
        assert http.get("/oidc/logout", params={"id_token_hint": value,
                                                "client_id": value}).status_code < 500
        assert http.get(f"/oidc/interaction/{quote(value[:100], safe='')}x").status_code < 500
