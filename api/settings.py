"""Configuration, read from ``ELOCAL_*`` environment variables (and ``.env``)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ELOCAL_", env_file=".env", extra="ignore")

    #: development relaxes nothing security-relevant; it only allows the demo PKI and seed data.
    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("./elocal-data")
    database_url: str | None = None
    #: ``redis://…`` for Redis; unset (or ``memory://``) for the in-process store.
    redis_url: str | None = None
    #: Key prefix in Redis, so that several deployments (or test runs) can share a server.
    redis_prefix: str = "elocal:"

    host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=1, le=65535)
    https_port: int = Field(8443, ge=0, le=65535)
    #: Base URL written into certificates (AIA, CRL distribution points) and OIDC discovery.
    public_url: str = "http://127.0.0.1:8000"
    workers: int = Field(1, ge=1, le=64)

    #: Addresses or networks allowed to pass a client certificate in ``client_cert_header``.
    trusted_proxies: list[str] = Field(default_factory=list)
    client_cert_header: str = "X-SSL-Client-Cert"

    #: Upload limits (bytes).
    max_document_bytes: int = Field(50 * 1024 * 1024, gt=0)
    spool_threshold_bytes: int = Field(2 * 1024 * 1024, gt=0)
    #: Signing: most incremental revisions an input PDF may have, deepest XML nesting,
    #: TSA and revocation fetch timeouts (seconds) and the TSA's policy OID.
    max_pdf_revisions: int = Field(100, gt=0)
    xml_max_depth: int = Field(64, gt=0)
    tsa_timeout_seconds: float = Field(10.0, gt=0)
    revocation_timeout_seconds: float = Field(10.0, gt=0)
    tsa_policy_oid: str = "2.25.201926011356730463917366473802474373817"
    #: Password of seal keys kept in PKCS#12 files or encrypted PEM (``pkcs12:`` specs).
    seal_key_password: str | None = None
    #: Folders of signature-policy documents (e.g. the AGE policy PDF) whose digests the
    #: validator checks; empty means ``<data_dir>/policies``.
    validation_policy_dirs: list[Path] = Field(default_factory=list)

    #: Registry attachments: per-file and per-entry limits (bytes), count and allowed types.
    registry_max_file_bytes: int = Field(20 * 1024 * 1024, gt=0)
    registry_max_entry_bytes: int = Field(50 * 1024 * 1024, gt=0)
    registry_max_attachments: int = Field(20, gt=0)
    registry_allowed_types: list[str] = Field(default_factory=lambda: [
        "application/pdf", "image/jpeg", "image/png", "application/xml", "text/xml",
        "text/plain", "application/vnd.oasis.opendocument.text",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ])

    session_idle_seconds: int = Field(30 * 60, gt=0)
    session_absolute_seconds: int = Field(8 * 3600, gt=0)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("public_url must be an http(s) URL")
        return v.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            ip_network(item, strict=False)
        return v

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'elocal.db').resolve()}"

    @property
    def proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return [ip_network(p, strict=False) for p in self.trusted_proxies]

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"
