"""eLocal as an OpenID Connect provider for municipal applications.

Municipal web apps delegate login here and receive standard tokens: the person
logs in with a certificate (``identity.login``), consents once per app, and the
app gets an ID token with a pairwise ``sub`` per municipality, a JWT access token
(RFC 9068) and, if the person granted ``offline_access``, a rotating refresh
token. Confidential clients registered for a
service scope (``seal``) can also act as themselves with client_credentials;
resource servers check those tokens with ``Provider.client_access``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from identity.oidc.clientauth import ClientCredentials, certificate_thumbprint
from identity.oidc.clients import (
    get_client,
    list_clients,
    register_client,
    remove_client,
)
from identity.oidc.errors import OAuthError
from identity.oidc.keys import SIGNING_ALGORITHMS, KeyRing, ensure_keys, list_keys, rotate
from identity.oidc.models import OidcClient, OidcConsent, OidcSigningKey
from identity.oidc.provider import (
    INTERACTION_COOKIE,
    BrowserBinding,
    ClientAccess,
    ConsentPage,
    ErrorPage,
    LogoutDone,
    LogoutPage,
    Provider,
    ProviderConfig,
    Redirect,
)
from identity.oidc.vault import Vault
from identity.sessions import SessionStore
from infra.db import transaction
from infra.state import StateStore

__all__ = [
    "INTERACTION_COOKIE",
    "SIGNING_ALGORITHMS",
    "BrowserBinding",
    "ClientAccess",
    "ClientCredentials",
    "ConsentPage",
    "ErrorPage",
    "KeyRing",
    "LogoutDone",
    "LogoutPage",
    "OAuthError",
    "OidcClient",
    "OidcConsent",
    "OidcSigningKey",
    "Provider",
    "ProviderConfig",
    "Redirect",
    "Vault",
    "build_provider",
    "certificate_login_url",
    "certificate_thumbprint",
    "ensure_keys",
    "get_client",
    "list_clients",
    "list_keys",
    "register_client",
    "remove_client",
    "rotate",
    "vault_for",
]


def certificate_login_url(public_url: str, https_port: int) -> str:
    """Where a browser goes to log in with its certificate.

    Behind an HTTPS ``public_url`` the reverse proxy asks for the certificate on the
    same origin. With a plain-HTTP ``public_url`` (development) the certificate can
    only be asked for by eLocal's own HTTPS listener, so the login goes there; the
    session cookie is not port-bound, and ``next`` brings the browser back.
    """
    parts = urlsplit(public_url)
    if parts.scheme == "https" or not https_port:
        return f"{public_url.rstrip('/')}/login/certificate"
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}:{https_port}/login/certificate"


def vault_for(data_dir: Path) -> Vault:
    """The provider's secrets in a data folder (``<data_dir>/oidc``)."""
    return Vault(data_dir / "oidc")


def build_provider(*, issuer: str, data_dir: Path, state: StateStore,
                   sessions: sessionmaker[Session], login_sessions: SessionStore,
                   config: ProviderConfig | None = None) -> Provider:
    """Wire a provider; signing keys are created on first use if none exist."""
    vault = vault_for(data_dir)

    @contextmanager
    def db() -> Iterator[Session]:
        with transaction(sessions) as session:
            yield session

    def load() -> list[OidcSigningKey]:
        with db() as session:
            ensure_keys(session, vault)
            return list_keys(session)

    return Provider(issuer=issuer, state=state, db=db, sessions=login_sessions, vault=vault,
                    keys=KeyRing(load, vault), config=config)
