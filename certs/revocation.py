"""Revocation status of the certificates the deployment's own (development) CA issued.

The database is the single source of truth: the CRL and the OCSP responder read
it on every request, so ``revoke`` shows in both at once, whichever process (CLI
or server) made the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.db import Base, UTCDateTime, utcnow
from infra.errors import Conflict, InvalidInput, NotFound

Status = Literal["good", "revoked", "unknown"]

#: Reasons a certificate can be revoked with (RFC 5280 CRLReason names).
REASONS: dict[str, x509.ReasonFlags] = {
    r.value: r for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl
}


class UnknownCertificate(NotFound):
    code = "unknown_certificate"
    title = "No certificate with that serial number was issued here"


class AmbiguousSerial(Conflict):
    code = "ambiguous_serial"
    title = "The serial number matches more than one certificate"


class AlreadyRevoked(Conflict):
    code = "certificate_already_revoked"
    title = "The certificate is already revoked"


class InvalidRevocationReason(InvalidInput):
    code = "invalid_revocation_reason"
    title = "Unknown revocation reason"


class InvalidSerial(InvalidInput):
    code = "invalid_serial"
    title = "Malformed serial number"


class IssuedCertificate(Base):
    """One certificate signed by a CA this deployment runs (not tenant-owned)."""

    __tablename__ = "issued_certificate"
    __table_args__ = (UniqueConstraint("issuer_key_id", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: Hex SubjectKeyIdentifier of the issuing CA (what OCSP certIDs and CRLs are keyed by).
    issuer_key_id: Mapped[str] = mapped_column(String(64), index=True)
    issuer_name: Mapped[str] = mapped_column(String(1000))
    #: Lower-case hex, no leading zeros (serials can exceed 64-bit integers).
    serial: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(1000))
    #: Where the dev PKI keeps it (``people/citizen``), for listings.
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="good")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def serial_number(self) -> int:
        return int(self.serial, 16)

    @property
    def reason_flag(self) -> x509.ReasonFlags | None:
        return REASONS.get(self.reason) if self.reason else None


@dataclass(frozen=True)
class CertStatus:
    status: Status
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def key_id(cert: x509.Certificate) -> str:
    """Hex SubjectKeyIdentifier of a CA certificate (computed if the extension is absent)."""
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(cert.public_key())  # type: ignore[arg-type]
    return ski.digest.hex()


def issuer_key_id(cert: x509.Certificate) -> str:
    """Hex key id of the CA that signed ``cert`` (its AuthorityKeyIdentifier)."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        aki = None
    if aki is None or aki.key_identifier is None:
        raise InvalidInput("certificate has no authority key identifier")
    return aki.key_identifier.hex()


def record_issued(session: Session, cert: x509.Certificate, *, label: str | None = None
                  ) -> IssuedCertificate:
    """Remember a certificate the CA signed; a certificate already recorded is returned as is."""
    kid, serial = issuer_key_id(cert), serial_hex(cert.serial_number)
    row = session.scalar(select(IssuedCertificate).where(
        IssuedCertificate.issuer_key_id == kid, IssuedCertificate.serial == serial))
    if row is not None:
        return row
    row = IssuedCertificate(
        issuer_key_id=kid, issuer_name=cert.issuer.rfc4514_string(), serial=serial,
        subject=cert.subject.rfc4514_string(), label=label,
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
    )
    session.add(row)
    session.flush()
    return row


def parse_serial(text: str) -> list[int]:
    """The serial numbers ``text`` can mean: ``0x…``/hex digits/``aa:bb`` or plain decimal.

    A run of decimal digits is also valid hexadecimal; both readings are returned
    and the caller picks the one that exists.
    """
    t = text.strip().lower().replace(":", "")
    try:
        if t.startswith("0x"):
            return [int(t[2:], 16)]
        if t.isdecimal():
            return list(dict.fromkeys([int(t, 10), int(t, 16)]))
        return [int(t, 16)]
    except ValueError:
        raise InvalidSerial(f"{text!r} is not a serial number (hex or decimal)",
                            value=text) from None


def find(session: Session, serial: int | str, *, issuer_key_id: str | None = None
         ) -> IssuedCertificate:
    """The recorded certificate with this serial (hex/decimal text or int)."""
    candidates = [serial] if isinstance(serial, int) else parse_serial(serial)
    query = select(IssuedCertificate).where(
        IssuedCertificate.serial.in_([serial_hex(c) for c in candidates]))
    if issuer_key_id is not None:
        query = query.where(IssuedCertificate.issuer_key_id == issuer_key_id)
    rows = list(session.scalars(query))
    if not rows:
        raise UnknownCertificate(f"no issued certificate has serial {serial}", serial=str(serial))
    if len(rows) > 1:
        raise AmbiguousSerial(f"serial {serial} matches {len(rows)} certificates; name the issuer",
                              serial=str(serial))
    return rows[0]


def revoke(session: Session, serial: int | str, reason: str | x509.ReasonFlags,
           *, issuer_key_id: str | None = None, at: datetime | None = None) -> IssuedCertificate:
    """Revoke a certificate; it shows as revoked in the next CRL and OCSP answer."""
    flag = reason if isinstance(reason, x509.ReasonFlags) else REASONS.get(reason)
    if flag is None or flag is x509.ReasonFlags.remove_from_crl:
        raise InvalidRevocationReason(f"unknown revocation reason {reason!r}",
                                      allowed=sorted(REASONS))
    row = find(session, serial, issuer_key_id=issuer_key_id)
    if row.status == "revoked":
        raise AlreadyRevoked(f"certificate {row.serial} was revoked at {row.revoked_at}",
                             serial=row.serial)
    row.status = "revoked"
    row.revoked_at = (at or utcnow()).replace(microsecond=0)
    row.reason = flag.value
    session.flush()
    return row


def status(session: Session, issuer_key_id: str, serial: int) -> CertStatus:
    """good / revoked / unknown (never issued by this CA) for one certificate."""
    row = session.scalar(select(IssuedCertificate).where(
        IssuedCertificate.issuer_key_id == issuer_key_id,
        IssuedCertificate.serial == serial_hex(serial)))
    if row is None:
        return CertStatus("unknown")
    if row.status == "revoked":
        return CertStatus("revoked", row.revoked_at, row.reason_flag)
    return CertStatus("good")


def revoked(session: Session, issuer_key_id: str) -> list[IssuedCertificate]:
    """Every revoked certificate of one CA, oldest revocation first (the CRL's entries)."""
    return list(session.scalars(
        select(IssuedCertificate)
        .where(IssuedCertificate.issuer_key_id == issuer_key_id,
               IssuedCertificate.status == "revoked")
        .order_by(IssuedCertificate.revoked_at, IssuedCertificate.id)))


def list_issued(session: Session) -> list[IssuedCertificate]:
    return list(session.scalars(select(IssuedCertificate).order_by(IssuedCertificate.id)))
