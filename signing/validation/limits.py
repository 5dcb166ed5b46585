"""Hard limits on hostile input: every validation ends quickly, whatever it is fed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationLimits:
    max_bytes: int = 50 * 1024 * 1024
    #: Incremental updates (``%%EOF`` markers) in one PDF.
    max_revisions: int = 64
    #: Indirect objects in one PDF (counted as ``obj`` keywords before parsing).
    max_objects: int = 200_000
    #: Signature fields (PDF) or ``ds:Signature`` elements (XML) in one document.
    max_signatures: int = 32
    #: ``ds:Reference`` elements in one XML signature.
    max_references: int = 64
    #: Bytes of one embedded CMS signature or timestamp token.
    max_cms_bytes: int = 2 * 1024 * 1024
    #: Bytes one PDF stream may decode to, and the ratio decoded/encoded above 1 MiB.
    max_decoded_stream: int = 64 * 1024 * 1024
    max_decode_ratio: float = 1100
    #: Bytes all stream decoding of one document may produce in total.
    max_decoded_total: int = 256 * 1024 * 1024


DEFAULT_LIMITS = ValidationLimits()
