"""RP-initiated logout: ends the eLocal session; redirects only to registered URIs."""

from __future__ import annotations

import re

from api.context import Context
from identity.sessions import SESSION_COOKIE
from tests.oidc.conftest import LOGGED_OUT, Browser, Rp, code_for, make_principal, redeem


def id_token(browser: Browser, rp: Rp) -> str:
    code, _ = code_for(browser, rp)
    return str(redeem(browser.http, rp, code).json()["id_token"])


def test_logout_with_id_token_hint_ends_the_session(browser: Browser, rp: Rp, ctx: Context,
                                                    demo_code: str) -> None:
    sid = browser.login_as(make_principal(demo_code))
    hint = id_token(browser, rp)
    r = browser.get("/oidc/logout", params={"id_token_hint": hint, "state": "s1",
                                            "post_logout_redirect_uri": LOGGED_OUT})
    assert r.status_code == 303 and r.headers["location"] == f"{LOGGED_OUT}?state=s1"
    assert ctx.login_sessions.get(sid) is None
    assert f'{SESSION_COOKIE}=""' in r.headers["set-cookie"]
    # Next authorization request must log in again.
    assert browser.authorize(rp).headers["location"].startswith(ctx.oidc.config.login_url)


def test_unregistered_post_logout_uri_is_never_redirected_to(browser: Browser, rp: Rp,
                                                              ctx: Context,
                                                              demo_code: str) -> None:
    sid = browser.login_as(make_principal(demo_code))
    hint = id_token(browser, rp)
    for target in ("https://evil.example/", LOGGED_OUT + "/"):
        r = browser.get("/oidc/logout", params={"id_token_hint": hint,
                                                "post_logout_redirect_uri": target})
        assert r.status_code == 400 and "location" not in r.headers
    no_client = browser.get("/oidc/logout", params={"post_logout_redirect_uri": LOGGED_OUT})
    assert no_client.status_code == 400
    assert ctx.login_sessions.get(sid) is not None


def test_logout_without_a_hint_asks_for_confirmation(browser: Browser, ctx: Context,
                                                     demo_code: str) -> None:
    sid = browser.login_as(make_principal(demo_code))
    page = browser.get("/oidc/logout")
    assert page.status_code == 200 and ctx.login_sessions.get(sid) is not None
    forged = browser.http.post("/oidc/logout/confirm", data={"csrf": "guess"})
    assert forged.status_code == 403 and ctx.login_sessions.get(sid) is not None
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    done = browser.http.post("/oidc/logout/confirm", data={"csrf": csrf.group(1)})
    assert done.status_code == 200 and ctx.login_sessions.get(sid) is None


def test_a_hint_for_someone_else_does_not_log_this_person_out(browser: Browser, rp: Rp,
                                                              ctx: Context,
                                                              demo_code: str) -> None:
    browser.login_as(make_principal(demo_code, subject="00000000T"))
    other_hint = id_token(browser, rp)
    sid = browser.login_as(make_principal(demo_code))
    r = browser.get("/oidc/logout", params={"id_token_hint": other_hint})
    assert r.status_code == 200 and 'name="csrf"' in r.text
    assert ctx.login_sessions.get(sid) is not None
