"""The validation report: what a municipality learns about each signature.

The vocabulary is ETSI EN 319 102-1's (the one EU DSS uses), so that a report from
eLocal reads like one from any other AdES validator. ``to_json`` is the API's JSON
shape; ``signing.validation.etsi`` renders the same report as TS 119 102-2 XML.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


class Indication(enum.StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(enum.StrEnum):
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"


#: Subindications that mean the signed bytes or the signature itself are not what
#: was signed. A report carrying one of these never says "intact".
ALTERATION_SUBINDICATIONS = frozenset(
    {
        SubIndication.FORMAT_FAILURE,
        SubIndication.HASH_FAILURE,
        SubIndication.SIG_CRYPTO_FAILURE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
    }
)

_SEVERITY = {Indication.TOTAL_PASSED: 0, Indication.INDETERMINATE: 1, Indication.TOTAL_FAILED: 2}


@dataclass
class Message:
    """A warning or error with a stable ``code`` (see ``signing.validation.codes``)."""

    code: str
    detail: str


@dataclass
class SignerIdentity:
    subject: str
    issuer: str
    serial_number: str
    #: SHA-256 of the certificate, hex.
    certificate_sha256: str
    #: Typed identity from ``certs.profiles.extract_identity`` when it recognises the profile.
    identity: dict[str, Any] | None = None


@dataclass
class TimestampInfo:
    #: ``signature`` (over one signature value), ``document`` (PDF DocTimeStamp) or ``archive``.
    kind: str
    time: datetime | None
    intact: bool
    trusted: bool
    tsa: str | None = None
    detail: str | None = None
    #: The token cannot be parsed: it proves nothing, and says nothing about the signature.
    unreadable: bool = False


@dataclass
class ScopeItem:
    """One thing the signature covers: a PDF revision, an XML element, a detached file."""

    kind: str
    name: str
    detail: str = ""


@dataclass
class PolicyInfo:
    identifier: str
    description: str | None = None
    #: ``True`` when the document registered for this identifier has the signed hash,
    #: ``False`` when that document is stored but its hash differs, ``None`` if it is unknown.
    hash_matches: bool | None = None
    digest_algorithm: str | None = None
    known_policy: str | None = None


@dataclass
class SignatureReport:
    id: str
    format: str
    level: str | None
    indication: Indication
    subindication: SubIndication | None = None
    #: The signature value verifies and covers what it claims, with no forbidden change after it.
    intact: bool = False
    signer: SignerIdentity | None = None
    claimed_signing_time: datetime | None = None
    best_signature_time: datetime | None = None
    timestamps: list[TimestampInfo] = field(default_factory=list)
    scope: list[ScopeItem] = field(default_factory=list)
    policy: PolicyInfo | None = None
    digest_algorithm: str | None = None
    signature_algorithm: str | None = None
    warnings: list[Message] = field(default_factory=list)
    errors: list[Message] = field(default_factory=list)

    def error(self, code: str, detail: str) -> None:
        self.errors.append(Message(code, detail))

    def warn(self, code: str, detail: str) -> None:
        if Message(code, detail) not in self.warnings:
            self.warnings.append(Message(code, detail))


@dataclass
class ValidationReport:
    document_format: str
    indication: Indication
    subindication: SubIndication | None
    validation_time: datetime
    signatures: list[SignatureReport] = field(default_factory=list)
    #: PDF document timestamps (PAdES-LTA), reported apart from the signatures they protect.
    document_timestamps: list[TimestampInfo] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    errors: list[Message] = field(default_factory=list)
    offline: bool = False

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def worst(signatures: list[SignatureReport]) -> tuple[Indication, SubIndication | None]:
    """The document verdict: its worst signature's (no signature at all is a failure)."""
    if not signatures:
        return Indication.TOTAL_FAILED, SubIndication.SIGNED_DATA_NOT_FOUND
    chosen = max(signatures, key=lambda s: _SEVERITY[s.indication])
    return chosen.indication, chosen.subindication


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value
