"""The client side of challenge–response login, for the CLI and other Python callers.

A client that cannot do TLS client authentication proves possession of its
certificate's key by signing eLocal's single-use challenge; this module is that
client, so that every caller signs the same message the same way.

The client takes only the nonce from the server and builds the signed text itself
(``identity.challenge.signed_message``) from the origin it chose to connect to and
the municipality it asked for. A hostile server therefore cannot get the user's key
to sign arbitrary bytes, and cannot relay a real server's nonce: the signature would
name the hostile origin.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from identity.challenge import (
    InvalidChallenge,
    InvalidLoginOrigin,
    check_nonce,
    login_origin,
    signed_message,
)
from identity.sessions import SESSION_COOKIE


class LoginRefused(Exception):
    """eLocal refused the login; ``code`` is the problem document's stable code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class LoginResult:
    session_id: str
    me: dict[str, Any]


def sign_challenge(key: object, message: bytes) -> tuple[bytes, str]:
    """Sign ``message`` with a certificate's private key; returns (signature, JOSE alg)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256()), "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256())), "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message), "EdDSA"
    raise TypeError(f"unsupported key type {type(key).__name__}")


def challenge_login(
    client: httpx.Client,
    municipality: str,
    certificate: x509.Certificate,
    key: object,
    chain: list[x509.Certificate] | None = None,
    *,
    origin: str | None = None,
) -> LoginResult:
    """Log in over ``client``; its cookie jar then holds the session.

    ``origin`` is the server the caller means to log in to (its public URL); it
    defaults to the client's base URL. The server's own ``message`` is ignored.
    """
    try:
        base = login_origin(origin or str(client.base_url))
    except InvalidLoginOrigin as exc:
        raise LoginRefused("invalid_origin", str(exc)) from None
    challenge = client.post("/login/challenge", params={"municipality": municipality})
    challenge.raise_for_status()
    data = challenge.json()
    nonce = data.get("nonce") if isinstance(data, dict) else None
    try:
        message = signed_message(base, municipality, check_nonce(nonce))
    except InvalidChallenge as exc:
        raise LoginRefused("invalid_challenge", f"refusing to sign: {exc}") from None
    signature, algorithm = sign_challenge(key, message)
    pem = serialization.Encoding.PEM
    r = client.post(
        "/login/challenge/response",
        json={
            "municipality": municipality,
            "nonce": nonce,
            "algorithm": algorithm,
            "signature": base64.b64encode(signature).decode(),
            "certificate": certificate.public_bytes(pem).decode(),
            "chain": [c.public_bytes(pem).decode() for c in chain or []],
        },
    )
    if r.status_code != 200:
        problem = r.json() if r.headers.get("content-type", "").endswith("json") else {}
        raise LoginRefused(str(problem.get("code", r.status_code)),
                           str(problem.get("detail", r.text)))
    return LoginResult(session_id=r.cookies.get(SESSION_COOKIE) or "", me=r.json())
