"""The single validation entry point: PDF, XML, or XML with detached content."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

from signing.validation import codes
from signing.validation.limits import DEFAULT_LIMITS, ValidationLimits
from signing.validation.pades import validate_pdf
from signing.validation.policies import PolicyStore
from signing.validation.report import Indication, Message, SubIndication, ValidationReport
from signing.validation.trust import TrustRoot, TrustSettings
from signing.validation.xades import validate_xml


def sniff(document: bytes) -> str | None:
    head = document[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if document[:1024].find(b"%PDF-") != -1:
        return "pdf"
    if head.startswith(b"<"):
        return "xml"
    return None


async def async_validate(
    document: bytes,
    *,
    detached: bytes | None = None,
    trust_roots: Iterable[TrustRoot] = (),
    at: datetime | None = None,
    offline: bool = False,
    policy_store: PolicyStore | None = None,
    limits: ValidationLimits = DEFAULT_LIMITS,
) -> ValidationReport:
    """Find every signature in ``document`` and validate each one.

    ``at`` validates as of a past moment (point-in-time); ``offline`` forbids any
    network fetch, so only revocation data embedded in the document counts.
    """
    when = (at or datetime.now(UTC)).astimezone(UTC)
    trust = TrustSettings.build(trust_roots, offline=offline, validation_time=when)
    policies = policy_store or PolicyStore()
    kind = sniff(document)
    if len(document) > limits.max_bytes:
        return _rejected(
            "unknown",
            when,
            offline,
            codes.INPUT_TOO_LARGE,
            f"document larger than {limits.max_bytes} bytes",
        )
    if kind == "pdf":
        return await validate_pdf(document, trust, policies, limits)
    if kind == "xml":
        return await validate_xml(document, detached, trust, policies, limits)
    return _rejected(
        "unknown", when, offline, codes.FORMAT_UNKNOWN, "neither a PDF nor an XML document"
    )


def validate(
    document: bytes,
    *,
    detached: bytes | None = None,
    trust_roots: Iterable[TrustRoot] = (),
    at: datetime | None = None,
    offline: bool = False,
    policy_store: PolicyStore | None = None,
    limits: ValidationLimits = DEFAULT_LIMITS,
) -> ValidationReport:
    """Synchronous ``async_validate`` (for the CLI, tests and threadpool routes)."""
    return asyncio.run(
        async_validate(
            document,
            detached=detached,
            trust_roots=trust_roots,
            at=at,
            offline=offline,
            policy_store=policy_store,
            limits=limits,
        )
    )


def _rejected(fmt: str, when: datetime, offline: bool, code: str, detail: str) -> ValidationReport:
    return ValidationReport(
        fmt,
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
        when,
        errors=[Message(code, detail)],
        offline=offline,
    )
