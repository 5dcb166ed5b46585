"""The composition root's object graph: one ``Context`` per process.

Everything expensive (engine, connection pools, parsed keys and certificates) is
built once here and shared by requests, CLI commands and tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.settings import Settings
from certs.store import Pki
from identity.login import CertificateLogin
from identity.oidc import Provider, ProviderConfig, build_provider, certificate_login_url
from identity.sessions import SessionStore
from identity.throttle import LoginThrottle
from infra.blobs import BlobStore
from infra.db import make_engine, make_sessionmaker
from infra.db import transaction as _transaction
from infra.state import StateStore, open_state_store
from registry.attachments import AttachmentLimits
from registry.checkpoint import load_or_create_key
from registry.log import RegistryLog
from registry.service import Registry
from signing import LocalTimeStamper, Sealer, SigningLimits, TimeStampAuthority
from signing.models import next_serial
from signing.threephase import ThreePhaseSigner, load_or_create_secret
from signing.validation import PolicyStore, ValidationLimits, Validator, default_policy_dirs


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.resolved_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def state(self) -> StateStore:
        return open_state_store(self.settings.redis_url, prefix=self.settings.redis_prefix)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blob_dir)

    @cached_property
    def pki(self) -> Pki:
        """The PKI folder (dev CA, TSA/OCSP keys, seals), parsed once per process."""
        return Pki(self.settings.pki_dir)

    @cached_property
    def registry_log(self) -> RegistryLog:
        """The registry's Merkle log: its Ed25519 key is read (or created) once."""
        key = load_or_create_key(self.settings.data_dir / "registry" / "log-ed25519.pem")
        # Checkpoints are time-stamped after their transaction commits, by eLocal's own
        # TSA in process (same client checks as every other timestamp).
        stamper = LocalTimeStamper(lambda der: self.tsa.respond(der))
        return RegistryLog(key, self.settings.public_url,
                           lambda note: bytes(stamper.timestamp_data(note).dump()))

    @cached_property
    def login_sessions(self) -> SessionStore:
        """Login sessions (cookie ``elocal_session``), shared by certificate login and OIDC."""
        return SessionStore(self.state, idle_seconds=self.settings.session_idle_seconds,
                            absolute_seconds=self.settings.session_absolute_seconds)

    @cached_property
    def certificate_login(self) -> CertificateLogin:
        return CertificateLogin(self.state, LoginThrottle(self.state))

    @cached_property
    def sealer(self) -> Sealer:
        """PAdES/XAdES sealing with per-municipality keys parsed once per process."""
        s = self.settings
        return Sealer(
            self.sessions, own_tsa_url=f"{s.public_url}/tsa", own_tsa=lambda: self.tsa,
            limits=SigningLimits(max_document_bytes=s.max_document_bytes,
                                 spool_threshold_bytes=s.spool_threshold_bytes,
                                 max_pdf_revisions=s.max_pdf_revisions,
                                 xml_max_depth=s.xml_max_depth),
            trust_roots=lambda: (self.pki.root,),
            key_password=s.seal_key_password,
            tsa_timeout=s.tsa_timeout_seconds, revocation_timeout=s.revocation_timeout_seconds,
        )

    @cached_property
    def three_phase(self) -> ThreePhaseSigner:
        """Three-phase (client-side key) PAdES signing; its HMAC key lives in the data folder."""
        return ThreePhaseSigner(
            self.state, load_or_create_secret(self.settings.data_dir / "signing" / "3p.key"),
            limits=self.sealer.limits, timestamper=self.sealer.timestamper)

    @cached_property
    def tsa(self) -> TimeStampAuthority:
        """eLocal's RFC 3161 TSA (``POST /tsa``), serials from the ``tsa_serial`` counter."""
        return TimeStampAuthority(self.pki.tsa, lambda: next_serial(self.sessions),
                                  policy_oid=self.settings.tsa_policy_oid)

    @cached_property
    def oidc(self) -> Provider:
        """The OpenID provider (issuer ``public_url``); its signing keys are parsed once."""
        s = self.settings
        login = certificate_login_url(s.public_url, s.https_port)
        return build_provider(issuer=s.public_url, data_dir=s.data_dir, state=self.state,
                              sessions=self.sessions, login_sessions=self.login_sessions,
                              config=ProviderConfig(login_url=login))

    @cached_property
    def registry(self) -> Registry:
        """The electronic registry: sealer, log, blob store and limits bound once."""
        s = self.settings
        limits = AttachmentLimits(
            max_file_bytes=s.registry_max_file_bytes, max_entry_bytes=s.registry_max_entry_bytes,
            max_count=s.registry_max_attachments,
            allowed_types=frozenset(t.lower() for t in s.registry_allowed_types),
        )
        return Registry(self.sessions, self.blobs, self.sealer, self.registry_log, limits,
                        s.public_url)

    @cached_property
    def validation(self) -> Validator:
        """Signature validation: policy documents and parsed trust stores, kept per process."""
        dirs = self.settings.validation_policy_dirs or default_policy_dirs(self.settings.data_dir)
        limits = ValidationLimits(max_bytes=self.settings.max_document_bytes)
        return Validator(PolicyStore(dirs), limits)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with _transaction(self.sessions) as session:
            yield session

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
