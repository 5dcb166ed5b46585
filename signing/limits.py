"""Explicit limits on what the sealing service accepts."""

from __future__ import annotations

from dataclasses import dataclass

from signing.xmlparse import XmlLimits


@dataclass(frozen=True)
class SigningLimits:
    #: Largest document accepted for sealing, timestamping or extension.
    max_document_bytes: int = 50 * 1024 * 1024
    #: Documents above this size are spooled to disk instead of held in memory.
    spool_threshold_bytes: int = 2 * 1024 * 1024
    #: Most incremental revisions a PDF may already have (every revision is parsed).
    max_pdf_revisions: int = 100
    #: Deepest XML element nesting accepted.
    xml_max_depth: int = 64
    xml_max_elements: int = 2_000_000

    @property
    def xml(self) -> XmlLimits:
        return XmlLimits(max_bytes=self.max_document_bytes, max_depth=self.xml_max_depth,
                         max_elements=self.xml_max_elements)
