"""Attachments of a submission: checked in full before anything is stored.

Every file is checked against explicit limits (per file, per entry, count) and an
allow-list of types, its first bytes must match the declared type, and PDFs must
parse. Only when every file passes are they copied into the content-addressed
blob store, so a rejected submission leaves nothing behind; a blob whose entry
later fails to commit is harmless (it is named by its digest and unreferenced).
Files are read from their spooled temporary files in chunks, never whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from infra.blobs import BlobStore
from registry.errors import (
    AttachmentTooLarge,
    AttachmentTypeRejected,
    AttachmentUnreadable,
    EntryTooLarge,
    InvalidSubmission,
    TooManyAttachments,
)

_ZIP_TYPES = {
    "application/vnd.oasis.opendocument.text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_XML_TYPES = {"application/xml", "text/xml"}


@dataclass(frozen=True)
class AttachmentLimits:
    max_file_bytes: int
    max_entry_bytes: int
    max_count: int
    allowed_types: frozenset[str]


@dataclass
class Upload:
    """A file as received: its name, the type the client declared, a seekable stream."""

    name: str
    declared_type: str
    stream: BinaryIO


@dataclass(frozen=True)
class StoredAttachment:
    name: str
    size: int
    mime: str
    sha256: str


def accept(blobs: BlobStore, uploads: Sequence[Upload],
           limits: AttachmentLimits) -> list[StoredAttachment]:
    """Check every upload, then store them; raises before storing anything."""
    if len(uploads) > limits.max_count:
        raise TooManyAttachments(
            f"at most {limits.max_count} attachments per entry", limit=limits.max_count
        )
    checked: list[tuple[Upload, str, str, int]] = []
    total = 0
    for position, upload in enumerate(uploads):
        name = clean_name(upload.name, position)
        size = _size(upload.stream)
        if size > limits.max_file_bytes:
            raise AttachmentTooLarge(
                f"{name!r} has {size} bytes; the limit is {limits.max_file_bytes}",
                attachment=name, limit=limits.max_file_bytes,
            )
        total += size
        if total > limits.max_entry_bytes:
            raise EntryTooLarge(
                f"the attachments exceed {limits.max_entry_bytes} bytes in total",
                limit=limits.max_entry_bytes,
            )
        mime = upload.declared_type.split(";", 1)[0].strip().lower()
        if mime not in limits.allowed_types:
            raise AttachmentTypeRejected(
                f"{name!r}: type {mime or '(none)'} is not accepted",
                attachment=name, accepted=sorted(limits.allowed_types),
            )
        if size == 0:
            raise AttachmentUnreadable(f"{name!r} is empty", attachment=name)
        _check_content(upload.stream, mime, name)
        checked.append((upload, name, mime, size))
    stored = []
    for upload, name, mime, size in checked:
        upload.stream.seek(0)
        digest = blobs.put_stream(upload.stream, limit=limits.max_file_bytes)
        stored.append(StoredAttachment(name=name, size=size, mime=mime, sha256=digest))
    return stored


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def clean_name(name: str, position: int) -> str:
    """A display name without paths or control characters (it is printed on the receipt)."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = unicodedata.normalize("NFC", _UNSAFE.sub("_", base)).strip(" .")
    if not base:
        raise InvalidSubmission(f"attachment {position + 1} has no file name")
    return base[:255]


def _size(stream: BinaryIO) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def _check_content(stream: BinaryIO, mime: str, name: str) -> None:
    stream.seek(0)
    head = stream.read(1024)
    stream.seek(0)
    if mime == "application/pdf":
        if b"%PDF-" not in head:
            raise AttachmentUnreadable(f"{name!r} is not a PDF", attachment=name)
        _check_pdf(stream, name)
    elif mime == "image/png":
        if not head.startswith(b"\x89PNG\r\n\x1a\n"):
            raise AttachmentUnreadable(f"{name!r} is not a PNG image", attachment=name)
    elif mime == "image/jpeg":
        if not head.startswith(b"\xff\xd8\xff"):
            raise AttachmentUnreadable(f"{name!r} is not a JPEG image", attachment=name)
    elif mime in _ZIP_TYPES:
        if not head.startswith(b"PK\x03\x04"):
            raise AttachmentUnreadable(f"{name!r} is not a {mime} document", attachment=name)
    elif mime in _XML_TYPES:
        if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise AttachmentUnreadable(f"{name!r} is not XML", attachment=name)
    elif mime == "text/plain" and b"\x00" in head:
        raise AttachmentUnreadable(f"{name!r} is not text", attachment=name)


def _check_pdf(stream: BinaryIO, name: str) -> None:
    """Open the PDF's structure (xref, catalogue, page tree) as a reader would."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(stream, strict=False)
        if reader.encrypted:
            raise AttachmentUnreadable(f"{name!r} is an encrypted PDF", attachment=name)
        pages = reader.root["/Pages"]
        count = int(pages["/Count"])
        if count < 1:
            raise AttachmentUnreadable(f"{name!r} has no pages", attachment=name)
        reader.root["/Pages"]["/Kids"][0].get_object()
    except AttachmentUnreadable:
        raise
    except Exception as exc:
        raise AttachmentUnreadable(
            f"{name!r} is not a readable PDF ({type(exc).__name__})", attachment=name
        ) from exc
    finally:
        stream.seek(0)
