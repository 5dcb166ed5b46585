"""Collecting certificates and revocation data for long-term (LT) signatures.

Revocation data is fetched live (OCSP first, CRL as the certificate points to)
from the sources named in the certificates, in hard-fail mode: if a source does
not answer, the long-term level is refused rather than produced without proof.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from signing.errors import RevocationUnavailable


def validation_context(trust_roots: Iterable[asn1_x509.Certificate],
                       other_certs: Iterable[asn1_x509.Certificate] = (),
                       *, timeout: float = 10.0) -> ValidationContext:
    """A context that fetches revocation data over HTTP and requires it."""
    return ValidationContext(
        trust_roots=list(trust_roots),
        other_certs=list(other_certs),
        allow_fetching=True,
        revocation_mode="hard-fail",
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=timeout),
    )


@dataclass
class ValidationMaterial:
    certificates: list[asn1_x509.Certificate]
    ocsp_responses: list[bytes]
    crls: list[bytes]


async def collect(vc: ValidationContext,
                  targets: Sequence[tuple[asn1_x509.Certificate, Sequence[asn1_x509.Certificate],
                                          set[str]]]) -> ValidationMaterial:
    """Validate each (certificate, intermediates, extended key usages) and gather what was used."""
    certs: dict[bytes, asn1_x509.Certificate] = {}
    for cert, intermediates, eku in targets:
        validator = CertificateValidator(cert, intermediate_certs=list(intermediates),
                                         validation_context=vc)
        try:
            path = await validator.async_validate_usage(set(), extended_key_usage=eku or None)
        except (PathBuildingError, PathValidationError, ValidationError) as exc:
            raise RevocationUnavailable(
                f"cannot validate {cert.subject.human_friendly} for the long-term level: {exc}"
            ) from exc
        for c in path:
            certs.setdefault(c.dump(), c)
    return ValidationMaterial(
        certificates=list(certs.values()),
        ocsp_responses=[o.dump() for o in vc.ocsps],
        crls=[c.dump() for c in vc.crls],
    )
