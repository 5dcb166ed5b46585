"""The authorization-code flow through the HTTP API: discovery, consent, tokens, userinfo."""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from api.context import Context
from identity.oidc import OidcConsent
from tests.oidc.conftest import (
    CALLBACK,
    Browser,
    Rp,
    callback_params,
    code_for,
    make_principal,
    pkce,
    redeem,
)


def id_token_claims(client: httpx.Client, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = KeySet.import_key_set(client.get("/oidc/jwks").json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    return dict(decoded.header), dict(decoded.claims)


def test_discovery_names_the_issuer_and_every_endpoint(client: TestClient, ctx: Context) -> None:
    meta = client.get("/.well-known/openid-configuration").json()
    issuer = ctx.settings.public_url
    assert meta["issuer"] == issuer
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                 "introspection_endpoint", "revocation_endpoint", "end_session_endpoint"):
        assert meta[name].startswith(issuer + "/oidc/"), name
    assert "openid" in meta["scopes_supported"] and "nif" in meta["scopes_supported"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    jwks = client.get("/oidc/jwks").json()["keys"]
    assert {k["alg"] for k in jwks} == {"RS256", "ES256"}
    assert all("d" not in k and "p" not in k for k in jwks)


def test_code_flow_with_consent_issues_signed_tokens(browser: Browser, rp: Rp, ctx: Context,
                                                     demo_code: str) -> None:
    browser.login_as(make_principal(demo_code, loa="high"))
    first = browser.authorize(rp, scope="openid profile email nif offline_access",
                              consent=False, nonce="n-0S6")
    assert first.status_code == 200
    assert "Portal tributario" in first.text and "NIF" in first.text
    assert first.headers["x-frame-options"] == "DENY"
    got = callback_params(browser.submit_consent(first, "allow"))
    assert got["state"] == "st-1" and got["iss"] == ctx.settings.public_url
    tokens = redeem(browser.http, rp, got["code"])
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"]
    header, claims = id_token_claims(browser.http, body["id_token"])
    assert header["kid"] and header["alg"] == "RS256"
    assert claims["iss"] == ctx.settings.public_url and claims["aud"] == rp.client_id
    assert claims["nonce"] == "n-0S6"
    assert claims["acr"] == "http://eidas.europa.eu/LoA/high"
    assert claims["amr"] == ["x509", "pop"] and isinstance(claims["auth_time"], int)
    assert claims["given_name"] == "María" and claims["nif"] == "12345678Z"
    assert claims["email"] == "maria@example.org"
    assert claims["sub"] != "12345678Z"   # pairwise, not the NIF
    at_header, at_claims = id_token_claims(browser.http, body["access_token"])
    assert at_header["typ"] == "at+jwt"
    assert at_claims["client_id"] == rp.client_id and at_claims["sub"] == claims["sub"]
    assert set(at_claims["scope"].split()) == {"openid", "profile", "email", "nif",
                                               "offline_access"}

    # The second time the consent screen is not shown again.
    again = browser.authorize(rp, scope="openid profile", consent=False)
    assert "code" in callback_params(again)
    with ctx.transaction() as s:
        assert s.query(OidcConsent).filter_by(client_id=rp.client_id).count() == 1


def test_scopes_limit_the_released_claims(browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope="openid")
    body = redeem(browser.http, rp, code).json()
    _, claims = id_token_claims(browser.http, body["id_token"])
    assert "nif" not in claims and "given_name" not in claims and "email" not in claims
    info = browser.http.get("/oidc/userinfo",
                            headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert info == {"sub": claims["sub"]}


def test_userinfo_by_get_post_header_and_post_body(browser: Browser, rp: Rp,
                                                   demo_code: str) -> None:
    browser.login_as(make_principal(demo_code, capacity="representative",
                                    entity_cif="B12345674", entity_name="ACME SL"))
    code, _ = code_for(browser, rp, scope="openid profile representation")
    at = redeem(browser.http, rp, code).json()["access_token"]
    http = browser.http
    by_get = http.get("/oidc/userinfo", headers={"Authorization": f"Bearer {at}"})
    by_post = http.post("/oidc/userinfo", headers={"Authorization": f"Bearer {at}"})
    by_body = http.post("/oidc/userinfo", data={"access_token": at})
    assert by_get.status_code == by_post.status_code == by_body.status_code == 200
    assert by_get.json() == by_post.json() == by_body.json()
    assert by_get.json()["representation"] == {"cif": "B12345674", "name": "ACME SL",
                                               "capacity": "representative"}
    assert "nif" not in by_get.json()
    missing = http.get("/oidc/userinfo")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")


def test_pkce_public_client(browser: Browser, ctx: Context, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    public = Rp("demo-portal", None, demo_code, CALLBACK)
    without = callback_params(browser.authorize(public))
    assert without["error"] == "invalid_request"
    verifier, challenge = pkce()
    code, _ = code_for(browser, public, code_challenge=challenge, code_challenge_method="S256")
    r = browser.http.post("/oidc/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "client_id": "demo-portal", "code_verifier": verifier})
    assert r.status_code == 200, r.text
    assert r.json()["id_token"]


def test_refresh_rotates_and_keeps_the_subject(browser: Browser, rp: Rp,
                                               demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope="openid offline_access")
    first = redeem(browser.http, rp, code).json()
    r = browser.http.post("/oidc/token", auth=rp.basic, data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    _, c1 = id_token_claims(browser.http, first["id_token"])
    _, c2 = id_token_claims(browser.http, second["id_token"])
    assert c1["sub"] == c2["sub"] and c1["auth_time"] == c2["auth_time"]
    info = browser.http.get("/oidc/userinfo",
                            headers={"Authorization": f"Bearer {second['access_token']}"})
    assert info.status_code == 200


def test_denied_consent_returns_access_denied(browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    page = browser.authorize(rp, consent=False)
    got = callback_params(browser.submit_consent(page, "deny"))
    assert got["error"] == "access_denied" and got["state"] == "st-1"


def test_not_logged_in_goes_to_certificate_login_and_back(browser: Browser, rp: Rp,
                                                          demo_code: str) -> None:
    r = browser.authorize(rp, login_hint="12345678Z")
    assert r.status_code == 303
    location = r.headers["location"]
    # Plain-HTTP public_url: the certificate is asked for by eLocal's HTTPS listener.
    https_login = f"https://127.0.0.1:{browser.ctx.settings.https_port}/login/certificate"
    assert location.startswith(f"{https_login}?municipality={demo_code}&next=%2Foidc%2F")
    assert "login_hint=12345678Z" in location
    nxt = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))["next"]
    from urllib.parse import unquote
    browser.login_as(make_principal(demo_code))
    page = browser.get(unquote(nxt))
    assert page.status_code == 200 and 'name="csrf"' in page.text
    assert "code" in callback_params(browser.submit_consent(page, "allow"))


def test_prompt_none(browser: Browser, rp: Rp, demo_code: str) -> None:
    logged_out = callback_params(browser.authorize(rp, prompt="none"))
    assert logged_out["error"] == "login_required" and logged_out["state"] == "st-1"
    browser.login_as(make_principal(demo_code))
    no_consent = callback_params(browser.authorize(rp, prompt="none"))
    assert no_consent["error"] == "consent_required"
    code_for(browser, rp)   # consents
    assert "code" in callback_params(browser.authorize(rp, prompt="none"))


def test_prompt_login_and_max_age_ask_again(browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code, auth_time=int(time.time()) - 120))
    code_for(browser, rp)
    login = browser.ctx.oidc.config.login_url
    assert browser.authorize(rp, prompt="login").headers["location"].startswith(login)
    assert browser.authorize(rp, max_age="60").headers["location"].startswith(login)
    code, _ = code_for(browser, rp, max_age="600")
    _, claims = id_token_claims(browser.http, redeem(browser.http, rp, code).json()["id_token"])
    assert claims["auth_time"] <= int(time.time()) - 120


def test_session_of_another_municipality_is_not_reused(browser: Browser, rp: Rp,
                                                       second_code: str) -> None:
    browser.login_as(make_principal(second_code))
    r = browser.authorize(rp)
    assert r.status_code == 303
    assert r.headers["location"].startswith(browser.ctx.oidc.config.login_url)


def test_essential_acr_that_is_not_met_is_an_error(browser: Browser, rp: Rp,
                                                   demo_code: str) -> None:
    browser.login_as(make_principal(demo_code, loa="substantial"))
    high = '{"id_token": {"acr": {"essential": true, "values": ["http://eidas.europa.eu/LoA/high"]}}}'
    got = callback_params(browser.authorize(rp, claims=high))
    assert got["error"] == "unmet_authentication_requirements"
    # Voluntary acr_values are a wish, not a requirement: the actual level is reported.
    code, _ = code_for(browser, rp, acr_values="http://eidas.europa.eu/LoA/high")
    _, claims = id_token_claims(browser.http, redeem(browser.http, rp, code).json()["id_token"])
    assert claims["acr"] == "http://eidas.europa.eu/LoA/substantial"


def test_claims_parameter_requests_a_claim_by_name(browser: Browser, rp: Rp,
                                                   demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope="openid",
                       claims='{"userinfo": {"nif": {"essential": true}}}')
    at = redeem(browser.http, rp, code).json()["access_token"]
    info = browser.http.get("/oidc/userinfo", headers={"Authorization": f"Bearer {at}"}).json()
    assert info["nif"] == "12345678Z"


def test_unknown_parameters_are_ignored(browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, foo="bar", ui_locales="es")
    assert redeem(browser.http, rp, code).status_code == 200


def test_a_client_can_ask_for_es256_id_tokens(browser: Browser, ctx: Context,
                                              demo_code: str) -> None:
    from tests.oidc.conftest import add_client

    rp = add_client(ctx, demo_code, client_id="ec-app", id_token_signed_response_alg="ES256")
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    body = redeem(browser.http, rp, code).json()
    header, claims = id_token_claims(browser.http, body["id_token"])
    assert header["alg"] == "ES256" and claims["aud"] == "ec-app"


def test_consent_is_asked_again_for_new_scopes_or_prompt_consent(browser: Browser, rp: Rp,
                                                                 demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code_for(browser, rp, scope="openid profile")
    assert "code" in callback_params(browser.authorize(rp, scope="openid", consent=False))
    wider = browser.authorize(rp, scope="openid profile nif", consent=False)
    assert wider.status_code == 200 and "NIF" in wider.text
    asked = browser.authorize(rp, scope="openid", prompt="consent", consent=False)
    assert asked.status_code == 200 and 'name="csrf"' in asked.text
