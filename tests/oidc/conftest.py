"""Fixtures for the OpenID provider: registered clients, sessions and a browser that
walks authorize → consent → redirect.

Most tests open the login session straight through ``SessionStore`` (certificate
login has its own tests); the end-to-end relying-party test logs in for real.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.context import Context
from identity.oidc import register_client
from identity.sessions import SESSION_COOKIE, Principal
from tests.conftest import LiveServer

CALLBACK = "http://127.0.0.1:8080/callback"
LOGGED_OUT = "http://127.0.0.1:8080/logged-out"


@dataclass
class Rp:
    client_id: str
    secret: str | None
    municipality: str
    redirect_uri: str = CALLBACK

    @property
    def basic(self) -> tuple[str, str]:
        assert self.secret is not None
        return (self.client_id, self.secret)


def make_principal(municipality: str, *, subject: str = "12345678Z", loa: str = "high",
                   auth_time: int | None = None, capacity: str = "citizen",
                   **identity: Any) -> Principal:
    ident = {"given_name": "María", "family_name": "García López", "nif": subject,
             "email": "maria@example.org", **identity}
    return Principal(subject=subject, capacity=capacity, identity=ident, loa=loa, roles=(),
                     municipality_code=municipality, amr=("x509", "pop"),
                     auth_time=auth_time if auth_time is not None else int(time.time()))


def add_client(ctx: Context, municipality: str, **kwargs: Any) -> Rp:
    kwargs.setdefault("post_logout_redirect_uris", [LOGGED_OUT])
    redirect = kwargs.pop("redirect_uris", [CALLBACK])
    with ctx.transaction() as s:
        client, secret = register_client(s, municipality, kwargs.pop("name", "Portal"),
                                         redirect, **kwargs)
        return Rp(client.client_id, secret, municipality, redirect[0])


@pytest.fixture(autouse=True)
def fresh_keys(ctx: Context) -> None:
    """Each test starts from the snapshot's signing keys, not a previous test's cache."""
    ctx.oidc.keys.invalidate()


@pytest.fixture
def rp(ctx: Context, demo_code: str) -> Rp:
    """A confidential client (client_secret_basic) of the first demo municipality."""
    return add_client(ctx, demo_code, client_id="tax-portal", name="Portal tributario")


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


@dataclass
class Browser:
    """Plays the person's browser against the provider (no redirects followed)."""

    http: httpx.Client
    ctx: Context
    pages: list[httpx.Response] = field(default_factory=list)

    def login_as(self, principal: Principal) -> str:
        sid = self.ctx.login_sessions.open(principal)
        self.http.cookies.set(SESSION_COOKIE, sid)
        return sid

    def get(self, url: str, **kw: Any) -> httpx.Response:
        r = self.http.get(url, follow_redirects=False, **kw)
        self.pages.append(r)
        return r

    def authorize(self, rp: Rp, *, scope: str = "openid profile", consent: bool = True,
                  **params: Any) -> httpx.Response:
        """Send an authorization request; approve the consent screen if one appears.

        Returns the final response: a redirect (to the client, or to login) or a page.
        """
        query = {"client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
                 "response_type": "code", "scope": scope, "state": "st-1", **params}
        r = self.get("/oidc/authorize", params={k: v for k, v in query.items()
                                                 if v is not None})
        if r.status_code == 200 and 'name="csrf"' in r.text and consent:
            r = self.submit_consent(r, "allow")
        return r

    def submit_consent(self, page: httpx.Response, decision: str) -> httpx.Response:
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert action and csrf, page.text
        r = self.http.post(action.group(1), data={"csrf": csrf.group(1), "decision": decision},
                           follow_redirects=False)
        self.pages.append(r)
        return r


def callback_params(response: httpx.Response, redirect_uri: str = CALLBACK) -> dict[str, str]:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture(scope="session")
def https_listener(session_ctx: Context, live_server: LiveServer) -> Iterator[str]:
    """eLocal's HTTPS listener (client certificates optional) on ``settings.https_port``,
    where plain-HTTP deployments send browsers to log in with a certificate."""
    from api.app import create_app
    from api.server import https_config

    config = https_config(create_app(ctx=session_ctx, migrate=False), session_ctx,
                          log_level="warning")
    assert config is not None, "the demo PKI has no TLS server certificate"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTPS listener did not start")
        time.sleep(0.02)
    yield f"https://127.0.0.1:{session_ctx.settings.https_port}"
    server.should_exit = True
    thread.join(timeout=10)


def tls_client(ctx: Context, person: str | None = None, *,
               cert: tuple[Path, Path] | None = None, **kw: Any) -> httpx.Client:
    """An httpx client trusting the demo root, presenting a demo person's certificate or
    ``cert`` (certificate chain PEM, key PEM)."""
    context = ssl.create_default_context(cafile=str(ctx.settings.pki_dir / "root.pem"))
    if person is not None:
        people = ctx.settings.pki_dir / "people"
        cert = (people / f"{person}.pem", people / f"{person}.key.pem")
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.Client(verify=context, timeout=30, **kw)


@pytest.fixture
def browser(client: TestClient, ctx: Context) -> Browser:
    return Browser(client, ctx)


def code_for(browser: Browser, rp: Rp, **params: Any) -> tuple[str, dict[str, str]]:
    """A fresh authorization code for ``rp`` (the browser must be logged in)."""
    got = callback_params(browser.authorize(rp, **params), rp.redirect_uri)
    assert "code" in got, got
    return got["code"], got


def redeem(http: httpx.Client, rp: Rp, code: str, **extra: Any) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            **extra}
    form = {k: v for k, v in data.items() if v is not None}
    if rp.secret is None:
        return http.post("/oidc/token", data=form)
    return http.post("/oidc/token", data=form, auth=rp.basic)
