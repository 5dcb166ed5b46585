"""Client authentication at the back-channel endpoints (token, introspection, revocation).

A client proves itself with exactly one method, the one it registered:
``client_secret_basic`` / ``client_secret_post`` (RFC 6749 §2.3.1; secrets compared
as hashes in constant time), ``private_key_jwt`` (RFC 7523; asymmetric algorithms
only, one audience that is the issuer or the endpoint called, single-use ``jti``),
``tls_client_auth`` (RFC 8705; the certificate's SHA-256 thumbprint) or ``none`` for
public clients.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from identity.oidc import errors as E
from identity.oidc.clients import find_client, secret_matches
from infra.state import StateStore

#: Algorithms accepted on client assertions (private_key_jwt); never HMAC or none.
CLIENT_ASSERTION_ALGORITHMS: tuple[str, ...] = ("RS256", "PS256", "ES256")
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: A client assertion longer than this is refused unread.
MAX_ASSERTION_LENGTH = 8192


@dataclass(frozen=True)
class ClientCredentials:
    """What a request to the token, introspection or revocation endpoint presented."""

    authorization: str | None = None
    form: Mapping[str, str] = field(default_factory=dict)
    certificate: x509.Certificate | None = None


def certificate_thumbprint(cert: x509.Certificate) -> str:
    """``x5t#S256`` of a certificate (RFC 8705 §3.1)."""
    digest = cert.fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class ClientAuthenticator:
    db: Callable[[], AbstractContextManager[Session]]
    state: StateStore
    #: The issuer: besides the URL of the endpoint called, the only ``aud`` of an assertion.
    issuer: str
    clock_skew: int = 30
    max_assertion_lifetime: int = 600

    def authenticate(self, creds: ClientCredentials, *, allow_public: bool,
                     endpoint: str) -> dict[str, Any]:
        """The client a back-channel request comes from (RFC 6749 §2.3, RFC 7523, RFC 8705).

        ``endpoint`` is the URL called: a client assertion must name it or the issuer.
        """
        form = creds.form
        basic = creds.authorization or ""
        methods = []
        basic_id = basic_secret = None
        if basic:
            scheme, _, value = basic.partition(" ")
            if scheme.lower() != "basic":
                raise E.InvalidClient("unsupported Authorization scheme")
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise E.InvalidClient("malformed Basic credentials") from None
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                raise E.InvalidClient("malformed Basic credentials")
            basic_id, basic_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            methods.append("client_secret_basic")
        if "client_secret" in form:
            methods.append("client_secret_post")
        if "client_assertion" in form or "client_assertion_type" in form:
            methods.append("private_key_jwt")
        if len(methods) > 1:
            raise E.InvalidRequest("use exactly one client authentication method")
        client_id = basic_id or form.get("client_id") or ""
        if methods == ["private_key_jwt"]:
            if len(form.get("client_assertion", "")) > MAX_ASSERTION_LENGTH:
                raise E.InvalidClient("client assertion too large")
            if not client_id:
                client_id = self._assertion_issuer(form.get("client_assertion", ""))
        if basic_id is not None and form.get("client_id") not in (None, basic_id):
            raise E.InvalidRequest("client_id does not match the Basic credentials")
        with self.db() as s:
            client = find_client(s, client_id)
            snapshot = client.public() if client is not None else None
            ok_secret = client is not None and secret_matches(
                client, basic_secret if basic_secret is not None
                else form.get("client_secret", ""))
            jwks = client.jwks if client is not None else None
            thumbprint = client.tls_certificate_thumbprint if client is not None else None
        if snapshot is None:
            raise E.InvalidClient("client authentication failed")
        registered = snapshot["token_endpoint_auth_method"]
        used = methods[0] if methods else (
            "tls_client_auth" if registered == "tls_client_auth" else "none")
        if used != registered:
            raise E.InvalidClient("client authentication failed (method not registered)")
        if used in ("client_secret_basic", "client_secret_post"):
            if not ok_secret:
                raise E.InvalidClient("client authentication failed")
        elif used == "private_key_jwt":
            self._check_assertion(form, snapshot["client_id"], jwks or {"keys": []},
                                  endpoint=endpoint)
        elif used == "tls_client_auth":
            presented = creds.certificate
            if presented is None or not thumbprint or not hmac.compare_digest(
                certificate_thumbprint(presented), thumbprint
            ):
                raise E.InvalidClient("client authentication failed (certificate)")
            snapshot["cnf"] = {"x5t#S256": certificate_thumbprint(presented)}
        elif not allow_public:
            raise E.InvalidClient("this endpoint needs an authenticated client")
        return snapshot

    def _assertion_issuer(self, assertion: str) -> str:
        try:
            body = assertion.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            return str(claims.get("iss") or "")
        except (IndexError, ValueError, TypeError, AttributeError):
            raise E.InvalidClient("malformed client assertion") from None

    def _check_assertion(self, form: Mapping[str, str], client_id: str,
                         jwks: Mapping[str, Any], *, endpoint: str) -> None:
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise E.InvalidClient("unsupported client_assertion_type")
        assertion = form.get("client_assertion", "")
        if len(assertion) > MAX_ASSERTION_LENGTH:
            raise E.InvalidClient("client assertion too large")
        try:
            keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
            token = jwt.decode(assertion, keys,
                               algorithms=list(CLIENT_ASSERTION_ALGORITHMS))
        except (JoseError, ValueError, TypeError, KeyError):
            raise E.InvalidClient("client assertion signature does not verify") from None
        c = token.claims
        if c.get("iss") != client_id or c.get("sub") != client_id:
            raise E.InvalidClient("client assertion iss/sub must be the client_id")
        self._check_audience(c.get("aud"), endpoint)
        exp = self._check_times(c)
        jti = c.get("jti")
        if not isinstance(jti, str) or not jti:
            raise E.InvalidClient("client assertion needs a jti")
        key = f"oidc:assertion:{_hash(client_id)}:{_hash(jti)}"
        if not self.state.add(key, b"1", exp - int(time.time()) + self.clock_skew + 1):
            raise E.InvalidClient("client assertion replayed")

    def _check_audience(self, aud: object, endpoint: str) -> None:
        """Exactly one audience, the issuer or the endpoint called.

        An assertion naming several audiences, or another server's URL, could have been
        made for someone else who now replays it here (CVE-2025-27370/27371).
        """
        if isinstance(aud, list):
            if len(aud) != 1:
                raise E.InvalidClient("client assertion must name exactly one audience")
            aud = aud[0]
        if not isinstance(aud, str) or aud not in (self.issuer, endpoint):
            raise E.InvalidClient("client assertion audience is not this endpoint")

    def _check_times(self, claims: Mapping[str, Any]) -> int:
        """``exp`` is required and near; ``iat`` and ``nbf``, if present, are not in the
        future. The lifetime bound also bounds the replay cache."""
        now = int(time.time())
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not _is_time(exp) or exp + self.clock_skew <= now:
            raise E.InvalidClient("client assertion expired")
        if exp - now > self.max_assertion_lifetime:
            raise E.InvalidClient("client assertion lives too long")
        if iat is not None:
            if not _is_time(iat) or iat > now + self.clock_skew:
                raise E.InvalidClient("client assertion issued in the future")
            if exp - iat > self.max_assertion_lifetime:
                raise E.InvalidClient("client assertion lives too long")
        if nbf is not None and (not _is_time(nbf) or nbf > now + self.clock_skew):
            raise E.InvalidClient("client assertion is not valid yet")
        return exp


def _is_time(value: object) -> TypeGuard[int]:
    """A NumericDate as eLocal accepts it: a whole number (booleans are not numbers)."""
    return isinstance(value, int) and not isinstance(value, bool)
