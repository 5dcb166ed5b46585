"""Registered relying parties: one municipality each, redirect URIs matched exactly."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from identity.oidc.claims import DEFAULT_CLIENT_SCOPES, SERVICE_SCOPES, SUPPORTED_SCOPES
from identity.oidc.keys import SIGNING_ALGORITHMS
from identity.oidc.models import OidcClient, OidcConsent
from infra import tenancy
from infra.errors import Conflict, InvalidInput, NotFound

CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt",
                        "tls_client_auth")
AUTH_METHODS = (*CONFIDENTIAL_METHODS, "none")
#: Only pairwise: a deployment-wide ``sub`` would let town halls link a person, which
#: only the ``nif`` scope may do, with the person's consent.
SUBJECT_TYPES = ("pairwise",)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{2,99}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class UnknownClientId(NotFound):
    code = "unknown_client"
    title = "Unknown OpenID client"


def hash_secret(secret: str) -> str:
    """SHA-256 suffices: secrets are 256-bit random values, not guessable passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(client: OidcClient, presented: str) -> bool:
    if client.secret_hash is None:
        return False
    return hmac.compare_digest(client.secret_hash, hash_secret(presented))


def check_redirect_uri(uri: str, field: str = "redirect_uris") -> str:
    """An absolute https URI (http only on the loopback interface), without a fragment."""
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise InvalidInput(f"{uri!r}: a redirect URI must not contain a fragment", field=field)
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return uri
    raise InvalidInput(f"{uri!r}: a redirect URI must be https (http only for loopback)",
                       field=field)


def register_client(
    session: Session,
    municipality_code: str,
    name: str,
    redirect_uris: Iterable[str],
    *,
    client_id: str | None = None,
    public: bool = False,
    token_endpoint_auth_method: str | None = None,
    post_logout_redirect_uris: Iterable[str] = (),
    jwks: dict[str, Any] | None = None,
    tls_certificate_thumbprint: str | None = None,
    scopes: Iterable[str] | None = None,
    subject_type: str = "pairwise",
    id_token_signed_response_alg: str = "RS256",  # noqa: S107
) -> tuple[OidcClient, str | None]:
    """Register a client; returns it with its secret (shown once; only a hash is kept)."""
    muni = tenancy.get_municipality(session, municipality_code)
    if not name.strip():
        raise InvalidInput("a client needs a name", field="name")
    client_id = client_id or f"c-{secrets.token_urlsafe(12)}"
    if not _CLIENT_ID.fullmatch(client_id):
        raise InvalidInput("client_id: 3-100 characters of A-Z a-z 0-9 . _ ~ -",
                           field="client_id")
    uris = [check_redirect_uri(u) for u in redirect_uris]
    if not uris:
        raise InvalidInput("a client needs at least one redirect URI", field="redirect_uris")
    logout_uris = [check_redirect_uri(u, "post_logout_redirect_uris")
                   for u in post_logout_redirect_uris]
    method = token_endpoint_auth_method or ("none" if public else "client_secret_basic")
    if public and method != "none":
        raise InvalidInput("a public client cannot authenticate; its method is 'none'",
                           field="token_endpoint_auth_method")
    if not public and method not in CONFIDENTIAL_METHODS:
        raise InvalidInput(f"token_endpoint_auth_method must be one of {CONFIDENTIAL_METHODS}",
                           field="token_endpoint_auth_method")
    if method == "private_key_jwt":
        if not jwks:
            raise InvalidInput("private_key_jwt needs the client's public JWKS", field="jwks")
        try:
            keyset = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(f"jwks: {exc}", field="jwks") from exc
        if any(k.is_private for k in keyset.keys):
            raise InvalidInput("jwks must hold public keys only", field="jwks")
    if method == "tls_client_auth" and not tls_certificate_thumbprint:
        raise InvalidInput("tls_client_auth needs the certificate's SHA-256 thumbprint",
                           field="tls_certificate_thumbprint")
    granted = list(dict.fromkeys(scopes if scopes is not None else DEFAULT_CLIENT_SCOPES))
    unknown = [s for s in granted if s not in SUPPORTED_SCOPES]
    if unknown or "openid" not in granted:
        raise InvalidInput(f"scopes must include openid and come from {SUPPORTED_SCOPES}",
                           field="scopes", unknown=unknown)
    service = [s for s in granted if s in SERVICE_SCOPES]
    if service and public:
        # A public client cannot authenticate, so it cannot be trusted to act as itself.
        raise InvalidInput(f"{service} can only be granted to confidential clients",
                           field="scopes")
    if subject_type not in SUBJECT_TYPES:
        raise InvalidInput("subject_type must be pairwise", field="subject_type")
    if id_token_signed_response_alg not in SIGNING_ALGORITHMS:
        raise InvalidInput(f"id_token_signed_response_alg must be one of {SIGNING_ALGORITHMS}",
                           field="id_token_signed_response_alg")
    if session.get(OidcClient, client_id) is not None:
        raise Conflict(f"client {client_id} already exists", client_id=client_id)
    secret = None if method in ("none", "private_key_jwt", "tls_client_auth") else (
        secrets.token_urlsafe(32))
    client = OidcClient(
        client_id=client_id,
        municipality_code=muni.code,
        name=name.strip(),
        client_type="public" if public else "confidential",
        secret_hash=hash_secret(secret) if secret else None,
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        token_endpoint_auth_method=method,
        jwks=jwks,
        tls_certificate_thumbprint=tls_certificate_thumbprint,
        allowed_scopes=granted,
        subject_type=subject_type,
        id_token_signed_response_alg=id_token_signed_response_alg,
    )
    session.add(client)
    session.flush()
    return client, secret


def get_client(session: Session, client_id: str) -> OidcClient:
    client = session.get(OidcClient, client_id)
    if client is None:
        raise UnknownClientId(f"no client {client_id!r}", client_id=client_id)
    return client


def find_client(session: Session, client_id: str) -> OidcClient | None:
    """The client, or None; a value that cannot be a client_id never reaches the database
    (PostgreSQL refuses NUL characters outright)."""
    if not client_id or not _CLIENT_ID.fullmatch(client_id):
        return None
    return session.get(OidcClient, client_id)


def list_clients(session: Session, municipality_code: str | None = None) -> list[OidcClient]:
    query = select(OidcClient).order_by(OidcClient.municipality_code, OidcClient.client_id)
    if municipality_code:
        query = query.where(OidcClient.municipality_code == municipality_code)
    return list(session.scalars(query))


def remove_client(session: Session, client_id: str) -> OidcClient:
    """Delete a client and its consents; tokens it holds stop working at once."""
    client = get_client(session, client_id)
    session.execute(delete(OidcConsent).where(OidcConsent.client_id == client_id))
    session.delete(client)
    session.flush()
    return client
