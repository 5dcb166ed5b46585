"""From certificate-validation results to an ETSI indication, the same way for PDF and XML."""

from __future__ import annotations

from datetime import datetime

from pyhanko.sign.ades.report import AdESIndeterminate, AdESSubIndic
from pyhanko.sign.validation.status import RevocationDetails

from signing.validation import codes
from signing.validation.report import Indication, SignatureReport, SubIndication

_TRUST_CODES = {
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: codes.CHAIN_UNTRUSTED,
    SubIndication.OUT_OF_BOUNDS_NO_POE: codes.CERT_EXPIRED,
    SubIndication.EXPIRED: codes.CERT_EXPIRED,
    SubIndication.NOT_YET_VALID: codes.CERT_NOT_YET_VALID,
    SubIndication.TRY_LATER: codes.REVOCATION_UNKNOWN,
    SubIndication.REVOKED_NO_POE: codes.CERT_REVOKED,
    SubIndication.REVOKED_CA_NO_POE: codes.CERT_REVOKED,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE: codes.WEAK_ALGORITHM,
}


def subindication_from(indic: AdESSubIndic | None) -> SubIndication:
    name = getattr(indic, "name", None) or ""
    if name in SubIndication.__members__:
        return SubIndication(name)
    return {
        "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
        "REVOCATION_OUT_OF_BOUNDS_NO_POE": SubIndication.OUT_OF_BOUNDS_NO_POE,
    }.get(name, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE)


def apply_trust(
    sig: SignatureReport,
    *,
    trusted: bool,
    problem: AdESSubIndic | None,
    revocation: RevocationDetails | None,
    proven_time: datetime | None,
    detail: str = "",
) -> None:
    """Record the trust outcome on an otherwise intact signature.

    A revoked signer is a hard failure when the signature demonstrably came after
    the revocation: proven by a timestamp, or admitted by the signer's own claimed
    time. Without that, ETSI says REVOKED_NO_POE (indeterminate).
    """
    if trusted and problem is None:
        return
    sub = (
        subindication_from(problem)
        if problem is not None
        else SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    )
    if revocation is not None and not revocation.ca_revoked:
        revoked_at = revocation.revocation_date
        after = (proven_time is not None and proven_time >= revoked_at) or (
            sig.claimed_signing_time is not None and sig.claimed_signing_time >= revoked_at
        )
        reason = revocation.revocation_reason.native
        message = f"signer certificate revoked on {revoked_at.isoformat()} ({reason})"
        sig.error(codes.CERT_REVOKED, message)
        if after:
            _set(sig, Indication.TOTAL_FAILED, SubIndication.REVOKED)
        else:
            _set(sig, Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
        return
    if problem == AdESIndeterminate.REVOKED_CA_NO_POE:
        sig.error(codes.CERT_REVOKED, "a CA certificate in the chain is revoked")
    else:
        sig.error(_TRUST_CODES.get(sub, codes.CHAIN_INVALID), detail or sub.value)
    _set(sig, Indication.INDETERMINATE, sub)


def _set(sig: SignatureReport, indication: Indication, sub: SubIndication) -> None:
    if sig.indication is Indication.TOTAL_FAILED:
        return
    if sig.indication is Indication.INDETERMINATE and indication is Indication.INDETERMINATE:
        return
    sig.indication, sig.subindication = indication, sub


def fail(sig: SignatureReport, sub: SubIndication, code: str, detail: str) -> None:
    """A definitive failure; the first one decides the subindication."""
    sig.error(code, detail)
    sig.intact = sig.intact and sub not in (
        SubIndication.FORMAT_FAILURE,
        SubIndication.HASH_FAILURE,
        SubIndication.SIG_CRYPTO_FAILURE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
    )
    if sig.indication is not Indication.TOTAL_FAILED:
        sig.indication, sig.subindication = Indication.TOTAL_FAILED, sub


def indeterminate(sig: SignatureReport, sub: SubIndication, code: str, detail: str) -> None:
    sig.error(code, detail)
    if sub is SubIndication.SIGNED_DATA_NOT_FOUND:
        sig.intact = False
    _set(sig, Indication.INDETERMINATE, sub)
