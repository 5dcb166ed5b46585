"""Attacks on the provider's grant, session and browser bindings, through the HTTP API."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.context import Context
from api.routes.oidc import MAX_FORM_BYTES
from identity.oidc import INTERACTION_COOKIE, ClientCredentials, OAuthError
from identity.oidc.tokens import MAX_TOKEN_LENGTH
from identity.sessions import SESSION_COOKIE
from tests.conftest import LiveServer
from tests.oidc.conftest import (
    LOGGED_OUT,
    Browser,
    Rp,
    add_client,
    callback_params,
    code_for,
    make_principal,
    redeem,
)
from tests.oidc.test_flow import id_token_claims

OFFLINE = "openid profile offline_access"
HIGH = ('{"id_token": {"acr": {"essential": true, '
        '"values": ["http://eidas.europa.eu/LoA/high"]}}}')


def bearer(http: httpx.Client, token: str) -> int:
    return http.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def refresh(http: httpx.Client, rp: Rp, token: str) -> httpx.Response:
    return http.post("/oidc/token", auth=rp.basic,
                     data={"grant_type": "refresh_token", "refresh_token": token})


def earlier(demo_code: str, seconds: int = 120, **kw: Any) -> Any:
    """A person who logged in before the authorization request was sent."""
    return make_principal(demo_code, auth_time=int(time.time()) - seconds, **kw)


def login_next(response: httpx.Response) -> str:
    """The interaction URL a login redirect will bring the browser back to."""
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["next"][0]


# ------------------------------------------------------------------ code replay race


class ReplayBeforeGrant:
    """A state store that replays the code the moment the winner writes its grant:
    the loser's revocation then lands before the grant exists."""

    def __init__(self, inner: Any, replay: Any) -> None:
        self.inner, self.replay, self.fired = inner, replay, False

    def put(self, key: str, value: bytes, ttl: float) -> None:
        if key.startswith("oidc:grant:") and not self.fired:
            self.fired = True
            self.replay()
        self.inner.put(key, value, ttl)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_code_replayed_before_its_grant_is_written_yields_no_tokens(
        browser: Browser, rp: Rp, ctx: Context, demo_code: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope=OFFLINE)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri}
    basic = "Basic " + base64.b64encode(":".join(rp.basic).encode()).decode()
    replays: list[str] = []

    def replay() -> None:
        try:
            ctx.oidc.token(ClientCredentials(authorization=basic, form=form))
        except OAuthError as exc:
            replays.append(exc.code)

    monkeypatch.setattr(ctx.oidc, "state", ReplayBeforeGrant(ctx.oidc.state, replay))
    winner = redeem(browser.http, rp, code)
    assert replays == ["invalid_grant"]
    assert winner.status_code == 400 and winner.json()["error"] == "invalid_grant"
    assert "access_token" not in winner.json()


def test_a_replay_after_redemption_revokes_access_and_refresh_tokens(
        browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope=OFFLINE)
    tokens = redeem(browser.http, rp, code).json()
    assert redeem(browser.http, rp, code).json()["error"] == "invalid_grant"
    assert bearer(browser.http, tokens["access_token"]) == 401
    assert refresh(browser.http, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_code_redeemed_by_another_client_is_invalid_grant(
        browser: Browser, rp: Rp, ctx: Context, demo_code: str) -> None:
    other = add_client(ctx, demo_code, client_id="thief-app")
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    stolen = redeem(browser.http, other, code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


# ------------------------------------------------------- offline_access and logout


def test_refresh_tokens_only_with_offline_access(browser: Browser, rp: Rp,
                                                 demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope="openid profile")
    online = redeem(browser.http, rp, code).json()
    assert "refresh_token" not in online and bearer(browser.http, online["access_token"]) == 200
    code, _ = code_for(browser, rp, scope=OFFLINE)
    offline = redeem(browser.http, rp, code).json()
    assert refresh(browser.http, rp, offline["refresh_token"]).status_code == 200
    # A client not registered for offline_access gets none, whatever it asks for.
    limited = add_client(browser.ctx, rp.municipality, client_id="no-offline",
                         scopes=["openid", "profile"])
    code, _ = code_for(browser, limited, scope=OFFLINE)
    assert "refresh_token" not in redeem(browser.http, limited, code).json()


def test_logout_ends_the_sessions_online_grants_but_not_offline_ones(
        browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope="openid profile")
    online = redeem(browser.http, rp, code).json()
    code, _ = code_for(browser, rp, scope=OFFLINE)
    offline = redeem(browser.http, rp, code).json()
    bye = browser.get("/oidc/logout", params={"id_token_hint": online["id_token"],
                                              "post_logout_redirect_uri": LOGGED_OUT})
    assert bye.status_code == 303
    assert bearer(browser.http, online["access_token"]) == 401
    assert bearer(browser.http, offline["access_token"]) == 200
    assert refresh(browser.http, rp, offline["refresh_token"]).status_code == 200


def test_confirmed_logout_ends_online_grants_too(browser: Browser, rp: Rp,
                                                demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope="openid")
    at = redeem(browser.http, rp, code).json()["access_token"]
    page = browser.get("/oidc/logout")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert browser.http.post("/oidc/logout/confirm", data={"csrf": csrf}).status_code == 200
    assert bearer(browser.http, at) == 401


def test_logging_out_of_elocal_ends_online_grants_too(browser: Browser, rp: Rp,
                                                      demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope="openid")
    online = redeem(browser.http, rp, code).json()["access_token"]
    code, _ = code_for(browser, rp, scope=OFFLINE)
    offline = redeem(browser.http, rp, code).json()["access_token"]
    assert browser.http.post("/logout").status_code == 204
    assert bearer(browser.http, online) == 401
    assert bearer(browser.http, offline) == 200


# --------------------------------------------------------- browser-bound interactions


def test_a_sign_in_request_only_resumes_in_the_browser_that_started_it(
        browser: Browser, rp: Rp, ctx: Context, demo_code: str) -> None:
    started = browser.authorize(rp)                       # the attacker, not logged in
    resume = login_next(started)
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"{INTERACTION_COOKIE}=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert f"Path={resume}" in cookie
    # The victim, logged in, is made to open the resume link.
    browser.http.cookies.clear()
    browser.login_as(make_principal(demo_code))
    hijacked = browser.get(resume)
    assert hijacked.status_code == 403 and "location" not in hijacked.headers
    browser.http.cookies.set(INTERACTION_COOKIE, "guess", path=resume)
    assert browser.get(resume).status_code == 403


def test_the_consent_form_needs_the_browser_binding(browser: Browser, rp: Rp,
                                                    demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    page = browser.authorize(rp, consent=False)
    assert page.status_code == 200 and INTERACTION_COOKIE in page.headers["set-cookie"]
    jar = browser.http.cookies
    bound = next(c for c in jar.jar if c.name == INTERACTION_COOKIE)
    jar.jar.clear(bound.domain, bound.path, bound.name)
    answer = browser.submit_consent(page, "allow")
    assert answer.status_code == 403 and "location" not in answer.headers


def test_the_same_browser_gets_its_code_after_login(browser: Browser, rp: Rp,
                                                    demo_code: str) -> None:
    resume = login_next(browser.authorize(rp, prompt="login"))
    browser.login_as(make_principal(demo_code))        # a fresh login satisfies prompt=login
    consent = browser.get(resume)
    assert consent.status_code == 200 and 'name="csrf"' in consent.text
    assert "code" in callback_params(browser.submit_consent(consent, "allow"))


def test_max_age_is_satisfied_by_the_login_it_asked_for(browser: Browser, rp: Rp,
                                                        demo_code: str) -> None:
    browser.login_as(earlier(demo_code, 600))
    code_for(browser, rp)                              # consent given once
    resume = login_next(browser.authorize(rp, max_age="0"))
    browser.login_as(make_principal(demo_code))
    assert "code" in callback_params(browser.get(resume))


# ------------------------------------------------------------------ acr and login_hint


def test_an_unmet_essential_acr_asks_for_a_stronger_login(browser: Browser, rp: Rp,
                                                         demo_code: str) -> None:
    browser.login_as(earlier(demo_code, loa="substantial"))
    code_for(browser, rp)
    again = browser.authorize(rp, claims=HIGH)
    assert again.headers["location"].startswith(browser.ctx.oidc.config.login_url)
    browser.login_as(make_principal(demo_code, loa="high"))
    code = callback_params(browser.get(login_next(again)))["code"]
    _, claims = id_token_claims(browser.http, redeem(browser.http, rp, code).json()["id_token"])
    assert claims["acr"] == "http://eidas.europa.eu/LoA/high"


def test_a_new_login_that_still_falls_short_is_an_error(browser: Browser, rp: Rp,
                                                        demo_code: str) -> None:
    browser.login_as(earlier(demo_code, loa="substantial"))
    resume = login_next(browser.authorize(rp, claims=HIGH))
    browser.login_as(make_principal(demo_code, loa="substantial"))
    got = callback_params(browser.get(resume))
    assert got["error"] == "unmet_authentication_requirements" and "code" not in got
    none = callback_params(browser.authorize(rp, claims=HIGH, prompt="none"))
    assert none["error"] == "login_required"


def test_a_session_of_someone_else_than_the_login_hint_is_not_reused(
        browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(earlier(demo_code))
    code_for(browser, rp)
    other = browser.authorize(rp, login_hint="00000000T")
    assert other.headers["location"].startswith(browser.ctx.oidc.config.login_url)
    silent = callback_params(browser.authorize(rp, login_hint="00000000T", prompt="none"))
    assert silent["error"] == "login_required"
    assert "code" in callback_params(browser.authorize(rp, login_hint="12345678z"))
    # The person who then logs in decides who they are: the hint is only a hint.
    browser.login_as(make_principal(demo_code))
    assert "code" in callback_params(browser.get(login_next(other)))


def test_prompt_none_with_an_id_token_hint(browser: Browser, rp: Rp, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code, subject="00000000T"))
    code, _ = code_for(browser, rp)
    someone_else = redeem(browser.http, rp, code).json()["id_token"]
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    tokens = redeem(browser.http, rp, code).json()
    mine = callback_params(browser.authorize(rp, prompt="none", id_token_hint=tokens["id_token"]))
    assert "code" in mine
    theirs = callback_params(browser.authorize(rp, prompt="none", id_token_hint=someone_else))
    assert theirs["error"] == "login_required"
    # An access token is no ID token.
    as_hint = callback_params(browser.authorize(rp, prompt="none",
                                                id_token_hint=tokens["access_token"]))
    assert as_hint["error"] == "invalid_request"


# ------------------------------------------------------------------------ logout hints


def test_logout_hints_must_be_id_tokens_of_that_client(browser: Browser, rp: Rp, ctx: Context,
                                                       demo_code: str) -> None:
    sid = browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    tokens = redeem(browser.http, rp, code).json()
    access = browser.get("/oidc/logout", params={"id_token_hint": tokens["access_token"]})
    assert access.status_code == 400
    # Even a token of another type that names this client as audience is no ID token.
    _, claims = id_token_claims(browser.http, tokens["id_token"])
    typed = ctx.oidc.signer.sign(claims, "RS256", "at+jwt")
    other_type = browser.get("/oidc/logout", params={"id_token_hint": typed})
    assert other_type.status_code == 400 and ctx.login_sessions.get(sid) is not None
    add_client(ctx, demo_code, client_id="other-rp")
    mismatch = browser.get("/oidc/logout", params={"id_token_hint": tokens["id_token"],
                                                   "client_id": "other-rp"})
    assert mismatch.status_code == 400 and ctx.login_sessions.get(sid) is not None


def test_an_expired_but_genuine_hint_still_logs_out(browser: Browser, rp: Rp, ctx: Context,
                                                    demo_code: str) -> None:
    sid = browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    hint = redeem(browser.http, rp, code).json()["id_token"]
    _, claims = id_token_claims(browser.http, hint)
    expired = ctx.oidc.signer.sign({**claims, "iat": claims["iat"] - 3600,
                                    "exp": claims["iat"] - 1800}, "RS256", "JWT")
    r = browser.get("/oidc/logout", params={"id_token_hint": expired})
    assert r.status_code == 200 and ctx.login_sessions.get(sid) is None
    assert f'{SESSION_COOKIE}=""' in r.headers["set-cookie"]


def test_id_tokens_name_the_session_and_a_hint_of_another_session_asks_first(
        browser: Browser, rp: Rp, ctx: Context, demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    old_hint = redeem(browser.http, rp, code).json()["id_token"]
    first_sid = id_token_claims(browser.http, old_hint)[1]["sid"]
    sid = browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    second_sid = id_token_claims(
        browser.http, redeem(browser.http, rp, code).json()["id_token"])[1]["sid"]
    assert first_sid and second_sid and first_sid != second_sid and sid not in second_sid
    r = browser.get("/oidc/logout", params={"id_token_hint": old_hint})
    assert r.status_code == 200 and 'name="csrf"' in r.text
    assert ctx.login_sessions.get(sid) is not None


# ----------------------------------------------------------------- introspection, limits


def test_a_client_cannot_introspect_another_clients_tokens(
        browser: Browser, rp: Rp, ctx: Context, demo_code: str) -> None:
    neighbour = add_client(ctx, demo_code, client_id="neighbour")
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp, scope=OFFLINE)
    tokens = redeem(browser.http, rp, code).json()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        r = browser.http.post("/oidc/introspect", auth=neighbour.basic, data={"token": token})
        assert r.status_code == 200 and r.json() == {"active": False}
        mine = browser.http.post("/oidc/introspect", auth=rp.basic, data={"token": token})
        assert mine.json()["active"] is True


def test_oversized_inputs_get_their_documented_errors(browser: Browser, rp: Rp) -> None:
    http = browser.http
    big = http.post("/oidc/token", auth=rp.basic,
                    data={"grant_type": "authorization_code", "code": "x" * MAX_FORM_BYTES})
    assert big.status_code == 400 and big.json()["error"] == "invalid_request"
    long_token = "a." + "b" * MAX_TOKEN_LENGTH + ".c"
    r = http.get("/oidc/userinfo", headers={"Authorization": f"Bearer {long_token}"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert http.post("/oidc/introspect", auth=rp.basic,
                     data={"token": long_token}).json() == {"active": False}


def test_tokens_signed_with_elocals_own_key_outside_the_allow_list_are_refused(
        browser: Browser, rp: Rp, ctx: Context, demo_code: str) -> None:
    """The allow-list itself, not the key type, must stop these: the signature is genuine."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    real = redeem(browser.http, rp, code).json()["access_token"]
    _, claims = id_token_claims(browser.http, real)
    own = ctx.oidc.keys.signing_key("RS256")
    # The same private key, without the "alg" that makes joserfc refuse other uses.
    key = RSAKey.import_key({k: v for k, v in own.as_dict(private=True).items() if k != "alg"})
    assert bearer(browser.http, real) == 200
    for alg in ("PS256", "RS512"):
        forged = jwt.encode({"alg": alg, "kid": own.kid, "typ": "at+jwt"},
                            {**claims, "jti": f"forged-{alg}"}, key, algorithms=[alg])
        assert bearer(browser.http, forged) == 401, alg
        r = browser.http.post("/oidc/introspect", auth=rp.basic, data={"token": forged})
        assert r.json() == {"active": False}, alg


def test_a_chunked_form_body_is_cut_off_at_the_limit(live: LiveServer) -> None:
    """No Content-Length: the token endpoint stops reading at the form limit."""
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        chunk = b"code=" + b"x" * (64 * 1024 - 5)
        while sent < 256 * 1024 * 1024:
            sent += len(chunk)
            yield chunk
            chunk = b"x" * 64 * 1024

    with live.client() as http:
        try:
            r = http.post("/oidc/token", content=body(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        except httpx.TransportError:
            r = None  # the server closed the connection mid-upload
    if r is not None:
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert sent < 64 * 1024 * 1024, sent
