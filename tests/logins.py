"""Logging in from tests, shared by every area: certificate challenge–response for
people, registered OpenID clients for applications."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from api.context import Context
from identity.challenge import signed_message
from identity.oidc import register_client
from identity.sessions import SESSION_COOKIE, Principal

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CALLBACK = "http://127.0.0.1:8080/callback"
LOGGED_OUT = "http://127.0.0.1:8080/logged-out"


def sign(key: Key, message: bytes) -> bytes:
    """What a challenge–response client does with its certificate's key."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def server_origin(client: Any) -> str:
    """The public URL of the eLocal behind ``client``: what a login signature names.

    A TestClient reaches the app at ``http://testserver``, but the app signs for its
    configured ``public_url``; a live httpx client's base URL is that public URL.
    """
    app = getattr(client, "app", None)
    if app is not None and hasattr(app, "state"):
        return str(app.state.ctx.settings.public_url)
    return str(client.base_url)


def challenge_login(
    client: Any,
    municipality: str,
    cert_pem: bytes,
    key: Key,
    *,
    chain: Iterable[bytes] = (),
    nonce: str | None = None,
    next_url: str | None = None,
    origin: str | None = None,
    signed_municipality: str | None = None,
    **extra: Any,
) -> Any:
    """Run the challenge–response login over ``client`` (TestClient or httpx.Client).

    The message is built here, as a real client must; ``origin`` and
    ``signed_municipality`` override what it names, to forge relayed signatures.
    """
    if nonce is None:
        ch = client.post("/login/challenge")
        assert ch.status_code == 200, ch.text
        nonce = ch.json()["nonce"]
    message = signed_message(origin or server_origin(client),
                             signed_municipality or municipality, nonce)
    body: dict[str, Any] = {
        "municipality": municipality,
        "nonce": nonce,
        "signature": base64.b64encode(sign(key, message)).decode(),
        "certificate": cert_pem.decode(),
        "chain": [c.decode() for c in chain],
    }
    if next_url is not None:
        body["next"] = next_url
    body.update(extra)
    return client.post("/login/challenge/response", json=body, follow_redirects=False)


def login_demo_person(client: Any, ctx: Context, person: str, municipality: str) -> Any:
    """Log ``client`` in as a demo person (``citizen``, ``employee``…) with their own key.

    The demo certificates' revocation URLs point at the live server: use with ``live``.
    """
    who = ctx.pki.person(person)
    chain = [c.public_bytes(Encoding.PEM) for c in who.chain if c.subject != c.issuer]
    res = challenge_login(client, municipality, who.certificate.public_bytes(Encoding.PEM),
                          who.key, chain=chain)  # type: ignore[arg-type]
    assert res.status_code == 200, res.text
    return res


def make_principal(municipality: str, *, subject: str = "12345678Z", loa: str = "high",
                   auth_time: int | None = None, capacity: str = "citizen",
                   **identity: Any) -> Principal:
    ident = {"given_name": "María", "family_name": "García López", "nif": subject,
             "email": "maria@example.org", **identity}
    return Principal(subject=subject, capacity=capacity, identity=ident, loa=loa, roles=(),
                     municipality_code=municipality, amr=("x509", "pop"),
                     auth_time=auth_time if auth_time is not None else int(time.time()))


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


def add_client(ctx: Context, municipality: str, **kwargs: Any) -> Rp:
    """Register an OpenID client directly (as ``elocal clients add`` does)."""
    kwargs.setdefault("post_logout_redirect_uris", [LOGGED_OUT])
    redirect = kwargs.pop("redirect_uris", [CALLBACK])
    with ctx.transaction() as s:
        client, secret = register_client(s, municipality, kwargs.pop("name", "Portal"),
                                         redirect, **kwargs)
        return Rp(client.client_id, secret, municipality, redirect[0])


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
