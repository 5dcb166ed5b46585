"""Content-addressed blob store: documents on disk, named by their SHA-256.

Content addressing makes writes idempotent and makes every stored document carry
its own integrity check, which is what registry receipts promise (the digest in a
receipt *is* the storage key). Writes go to a temporary file in the same folder
and are renamed into place, so a crash never leaves a half-written blob under a
valid name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class BlobNotFound(KeyError):
    """No blob is stored under that digest."""


class BlobTooLarge(ValueError):
    """The stream was longer than the caller's limit; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"content exceeds the limit of {limit} bytes")
        self.limit = limit


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise BlobNotFound(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        return self.put_stream([data])

    def put_stream(self, chunks: Iterable[bytes] | BinaryIO, *, limit: int | None = None) -> str:
        """Store a stream without holding it in memory; returns the hex SHA-256."""
        iterator: Iterable[bytes]
        if hasattr(chunks, "read"):
            stream = chunks
            iterator = iter(lambda: stream.read(CHUNK), b"")  # type: ignore[union-attr]
        else:
            iterator = chunks  # type: ignore[assignment]
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in iterator:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise BlobTooLarge(limit)
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            final = self.path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return digest
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, digest: str) -> bool:
        try:
            return self.path(digest).is_file()
        except BlobNotFound:
            return False

    def open(self, digest: str) -> BinaryIO:
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(digest) from exc

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def verify(self, digest: str) -> bool:
        """Recompute a blob's digest: False if the file on disk was altered."""
        h = hashlib.sha256()
        with self.open(digest) as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
        return h.hexdigest() == digest
