"""Tables of the OpenID provider: registered clients, signing keys and consents.

Short-lived artefacts (authorization codes, interactions, grants, refresh tokens)
live in the state store instead, because they need expiry and atomic single use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, UTCDateTime, utcnow


class OidcClient(Base):
    """A relying party of one municipality (a tax portal, a booking app…)."""

    __tablename__ = "oidc_client"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: ``confidential`` or ``public`` (public clients must use PKCE S256).
    client_type: Mapped[str] = mapped_column(String(20))
    #: SHA-256 of the client secret (hex); the secret itself is shown once, never stored.
    secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Exact-match list: no prefixes, no wildcards, no normalisation.
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: client_secret_basic | client_secret_post | private_key_jwt | tls_client_auth | none
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    #: Public JWK set for private_key_jwt.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: SHA-256 thumbprint (base64url) of the certificate the client presents for tls_client_auth.
    tls_certificate_thumbprint: Mapped[str | None] = mapped_column(String(64), default=None)
    allowed_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Always ``pairwise`` (per municipality); older ``public`` registrations get pairwise
    #: subjects too.
    subject_type: Mapped[str] = mapped_column(String(10), default="pairwise")
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_public(self) -> bool:
        return self.client_type == "public"

    def public(self) -> dict[str, Any]:
        """What may be shown about the client (never the secret hash)."""
        return {
            "client_id": self.client_id,
            "municipality_code": self.municipality_code,
            "name": self.name,
            "client_type": self.client_type,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "allowed_scopes": list(self.allowed_scopes),
            "subject_type": self.subject_type,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
        }


class OidcSigningKey(Base):
    """A token-signing key.

    The private JWK is stored encrypted (AES-256-GCM, the key id as associated
    data) under a key-encryption key that lives only in the data folder (mode
    0600), so that a copy of the database alone does not yield signing keys.
    """

    __tablename__ = "oidc_signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    encrypted_private_jwk: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set on rotation; a retired key signs nothing new.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: When the last token it signed has expired; until then it stays in the JWKS.
    expires_after: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class OidcConsent(Base):
    """The scopes a person has agreed to release to one client."""

    __tablename__ = "oidc_consent"
    __table_args__ = (UniqueConstraint("municipality_code", "subject", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oidc_client.client_id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
