from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from infra.blobs import BlobNotFound, BlobStore, BlobTooLarge


def test_blobs_are_named_by_their_sha256(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"%PDF-1.7 hello"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.read(digest) == data
    assert store.put(data) == digest  # idempotent
    assert store.verify(digest)


def test_streamed_put_enforces_the_limit_and_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobTooLarge):
        store.put_stream(io.BytesIO(b"x" * 5000), limit=4096)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_tampered_blob_fails_verification(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(b"original")
    store.path(digest).write_bytes(b"altered!")
    assert not store.verify(digest)


def test_unknown_or_malformed_digest_is_not_found(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobNotFound):
        store.read("0" * 64)
    with pytest.raises(BlobNotFound):
        store.read("../../etc/passwd")
