"""Validation of anyone's PAdES and XAdES signatures, reported in ETSI EN 319 102-1 terms.

``validate`` (or ``async_validate``) takes a PDF, an XML document, or an XML document
with its detached content, finds every signature and validates each one; the
``ValidationReport`` it returns renders as JSON (``to_json``) or as the ETSI TS
119 102-2 XML report (``to_etsi_xml``).
"""

from signing.validation import codes
from signing.validation.core import async_validate, validate
from signing.validation.etsi import to_etsi_xml
from signing.validation.limits import DEFAULT_LIMITS, ValidationLimits
from signing.validation.policies import KNOWN_POLICIES, PolicyStore
from signing.validation.report import (
    ALTERATION_SUBINDICATIONS,
    Indication,
    Message,
    PolicyInfo,
    ScopeItem,
    SignatureReport,
    SignerIdentity,
    SubIndication,
    TimestampInfo,
    ValidationReport,
)
from signing.validation.service import Validator, default_policy_dirs

__all__ = [
    "ALTERATION_SUBINDICATIONS",
    "DEFAULT_LIMITS",
    "KNOWN_POLICIES",
    "Indication",
    "Message",
    "PolicyInfo",
    "PolicyStore",
    "ScopeItem",
    "SignatureReport",
    "SignerIdentity",
    "SubIndication",
    "TimestampInfo",
    "ValidationLimits",
    "ValidationReport",
    "Validator",
    "async_validate",
    "codes",
    "default_policy_dirs",
    "to_etsi_xml",
    "validate",
]
