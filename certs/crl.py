"""Certificate revocation lists of the deployment's CAs, built from the database.

A CRL is re-signed only when the set of revoked certificates changes or half of
its validity has passed; otherwise the cached DER is served. The revocation
state is read from the database on every request, so a revocation made by the
CLI in another process shows in the very next CRL.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy.orm import Session

from certs import revocation

if TYPE_CHECKING:
    from certs.store import Pki

#: A CRL's nextUpdate is this far after its thisUpdate.
CRL_VALIDITY = timedelta(hours=1)


@dataclass(frozen=True)
class _Published:
    fingerprint: tuple[tuple[str, str, str], ...]
    ca_id: int
    this_update: datetime
    der: bytes


class CrlPublisher:
    def __init__(self, pki: Pki, *, validity: timedelta = CRL_VALIDITY) -> None:
        self.pki = pki
        self.validity = validity
        self._lock = threading.Lock()
        self._published: dict[str, _Published] = {}
        self._last_number = 0

    def crl(self, session: Session, ca_name: str, *, now: datetime | None = None) -> bytes:
        """The current DER CRL of ``root`` or ``issuing`` (``UnknownCa`` otherwise)."""
        material = self.pki.ca(ca_name)
        ca = material.certificate
        rows = revocation.revoked(session, revocation.key_id(ca))
        fingerprint = tuple((r.serial, str(r.revoked_at), r.reason or "") for r in rows)
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        with self._lock:
            cached = self._published.get(ca_name)
            if (cached is not None and cached.fingerprint == fingerprint
                    and cached.ca_id == id(ca) and now - cached.this_update < self.validity / 2):
                return cached.der
            number = self._next_number(now)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.subject)
            .last_update(now)
            .next_update(now + self.validity)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.public_key()), critical=False)  # type: ignore[arg-type]
        )
        for row in rows:
            entry = (x509.RevokedCertificateBuilder()
                     .serial_number(row.serial_number)
                     .revocation_date(row.revoked_at or now))
            flag = row.reason_flag
            if flag is not None and flag is not x509.ReasonFlags.unspecified:
                entry = entry.add_extension(x509.CRLReason(flag), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        der = builder.sign(material.key, hashes.SHA256()).public_bytes(  # type: ignore[arg-type]
            serialization.Encoding.DER)
        with self._lock:
            self._published[ca_name] = _Published(fingerprint, id(ca), now, der)
        return der

    def _next_number(self, now: datetime) -> int:
        # Milliseconds since the epoch: increases across processes and restarts.
        self._last_number = max(self._last_number + 1, int(now.timestamp() * 1000))
        return self._last_number
