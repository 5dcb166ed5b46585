"""Signed tokens: ID tokens (OIDC Core §2) and JWT access tokens (RFC 9068).

Only eLocal's own keys and algorithms (``SIGNING_ALGORITHMS``) are ever accepted:
``alg=none``, HMAC algorithms (the "public key as HS256 secret" confusion) and
unknown key ids fail before any claim is read.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from identity.oidc.errors import InvalidToken
from identity.oidc.keys import SIGNING_ALGORITHMS, KeyRing

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105
#: ID tokens are typed too, so that an access token can never pass for one.
ID_TOKEN_TYP = "JWT"  # noqa: S105
#: A bearer token longer than this is not one eLocal issued.
MAX_TOKEN_LENGTH = 8192


def left_hash(value: str, alg: str) -> str:
    """``at_hash``: the left half of the SHA-256 of the token (both algorithms use SHA-256)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def new_jti() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Signer:
    keys: KeyRing

    def sign(self, claims: Mapping[str, Any], alg: str, typ: str) -> str:
        if alg not in SIGNING_ALGORITHMS:
            raise ValueError(f"eLocal does not sign with {alg}")
        key = self.keys.signing_key(alg)
        header = {"alg": alg, "kid": key.kid, "typ": typ}
        return jwt.encode(header, dict(claims), key, algorithms=[alg])

    def verify(self, token: str, *, typ: str | None, issuer: str,
               audience: str | None = None, check_exp: bool = True,
               now: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(header, claims) of a token eLocal signed, or ``InvalidToken``."""
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("the token is malformed")
        try:
            header_part = token.split(".", 1)[0]
            header = _json_b64(header_part)
            kid = header.get("kid")
            if header.get("alg") not in SIGNING_ALGORITHMS or not isinstance(kid, str):
                raise InvalidToken("the token is not signed with an accepted algorithm")
            decoded = jwt.decode(token, self.keys.verifying_keys(kid),
                                 algorithms=list(SIGNING_ALGORITHMS))
        except InvalidToken:
            raise
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken("the token signature does not verify") from exc
        if typ is not None and str(decoded.header.get("typ", "")).lower() not in (
            typ.lower(), f"application/{typ.lower()}"
        ):
            raise InvalidToken(f"the token is not of type {typ}")
        claims = dict(decoded.claims)
        if claims.get("iss") != issuer:
            raise InvalidToken("the token was issued by someone else")
        if audience is not None:
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            if audience not in auds:
                raise InvalidToken("the token is meant for another audience")
        if check_exp:
            exp = claims.get("exp")
            if not isinstance(exp, int) or exp <= (now or int(time.time())):
                raise InvalidToken("the token has expired")
        return dict(decoded.header), claims


def _json_b64(part: str) -> dict[str, Any]:
    import json

    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the JOSE header is not an object")
    return value
