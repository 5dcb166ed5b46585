"""Trust anchors, revocation sources and signer identity for validation.

Certificate paths are validated at a chosen moment (the best signature time)
against the municipality's trust store only; the operating system's list never
counts. Revocation data embedded in the signature is used first; fetching OCSP/CRL
over the network happens only when the caller allows it, and then a missing answer
is a hard failure (TRY_LATER), never a silent pass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from signing.validation.report import SignerIdentity

TrustRoot: TypeAlias = asn1_x509.Certificate | pyca_x509.Certificate | bytes

#: Network fetches for OCSP/CRL give up after this long.
FETCH_TIMEOUT_SECONDS = 10


def as_asn1(cert: TrustRoot) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    if isinstance(cert, pyca_x509.Certificate):
        return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    if cert.lstrip().startswith(b"-----"):
        return asn1_x509.Certificate.load(
            pyca_x509.load_pem_x509_certificate(cert).public_bytes(Encoding.DER)
        )
    return asn1_x509.Certificate.load(cert)


@dataclasses.dataclass(frozen=True)
class TrustSettings:
    """Everything about trust that stays the same across one validation call."""

    roots: tuple[asn1_x509.Certificate, ...]
    offline: bool
    validation_time: datetime

    @classmethod
    def build(
        cls, roots: Iterable[TrustRoot], *, offline: bool, validation_time: datetime
    ) -> TrustSettings:
        return cls(tuple(as_asn1(r) for r in roots), offline, validation_time)

    def context(
        self,
        *,
        moment: datetime | None = None,
        other_certs: Iterable[asn1_x509.Certificate] = (),
        ocsps: Iterable[asn1_ocsp.OCSPResponse | bytes] = (),
        crls: Iterable[asn1_crl.CertificateList | bytes] = (),
    ) -> ValidationContext:
        """A fresh certvalidator context at ``moment`` (default: the validation time)."""
        at = moment or self.validation_time
        kwargs: dict[str, Any] = {}
        if not self.offline:
            kwargs["fetcher_backend"] = RequestsFetcherBackend(
                per_request_timeout=FETCH_TIMEOUT_SECONDS
            )
        return ValidationContext(
            trust_roots=list(self.roots),
            other_certs=parsable(other_certs),
            moment=at,
            allow_fetching=not self.offline,
            ocsps=parsable(ocsps),
            crls=parsable(crls),
            revocation_mode="hard-fail",
            # Revocation data issued after the moment still tells whether the certificate
            # was revoked *at* that moment (it carries the revocation date). Data fetched
            # during this validation is always a little newer than the moment itself.
            retroactive_revinfo=True,
            **kwargs,
        )


def parsable(items: Iterable[Any]) -> list[Any]:
    """Only the ASN.1 values that parse completely: embedded data is attacker-controlled."""
    out = []
    for item in items:
        if isinstance(item, bytes):
            continue
        try:
            item.native  # noqa: B018 - forces a full parse
        except Exception:  # noqa: S112 - unparsable embedded data is simply not used
            continue
        out.append(item)
    return out


def signer_identity(cert: asn1_x509.Certificate) -> SignerIdentity:
    der = cert.dump()
    identity: dict[str, Any] | None = None
    extractor = _identity_extractor()
    if extractor is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = extractor(pyca_x509.load_der_x509_certificate(der))
        except Exception:  # an unrecognised profile is not a validation failure
            found = None
        if found is not None:
            identity = _as_dict(found)
    return SignerIdentity(
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial_number=format(cert.serial_number, "x"),
        certificate_sha256=hashlib.sha256(der).hexdigest(),
        identity=identity,
    )


def _identity_extractor() -> Any:
    """The identity package's typed extractor (``certs.profiles``)."""
    try:
        from certs import profiles
    except ImportError:
        return None
    return getattr(profiles, "extract_identity", None) or getattr(profiles, "identify", None)


def _as_dict(found: Any) -> dict[str, Any]:
    if hasattr(found, "to_dict"):
        raw = found.to_dict()
    elif dataclasses.is_dataclass(found) and not isinstance(found, type):
        raw = dataclasses.asdict(found)
    elif isinstance(found, dict):
        raw = dict(found)
    elif hasattr(found, "model_dump"):
        raw = found.model_dump()
    else:
        raw = {"value": str(found)}
    return {k: _plain(v) for k, v in raw.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return str(value)


def unique_certs(certs: Sequence[asn1_x509.Certificate]) -> list[asn1_x509.Certificate]:
    seen: set[bytes] = set()
    out = []
    for cert in certs:
        digest = hashlib.sha256(cert.dump()).digest()
        if digest not in seen:
            seen.add(digest)
            out.append(cert)
    return out
