"""Upload caps hold for chunked bodies too: no Content-Length, the cap still applies as
the body streams in, and the rest is never read."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.context import Context
from tests.logins import login_demo_person
from tests.signing.test_api import PROBLEM

CHUNK = 64 * 1024
BOUNDARY = "elocal-test-boundary"


class Upload:
    """A multipart body of ``total`` bytes, produced chunk by chunk, counting what is read."""

    def __init__(self, fields: dict[str, str], file_field: str, total: int) -> None:
        self.fields = fields
        self.file_field = file_field
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        head = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                       f"{v}\r\n" for k, v in self.fields.items())
        head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{self.file_field}"; '
                 f'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n')
        yield self._count(head.encode())
        while self.sent < self.total:
            yield self._count(b"\0" * CHUNK)
        yield self._count(f"\r\n--{BOUNDARY}--\r\n".encode())

    def _count(self, data: bytes) -> bytes:
        self.sent += len(data)
        return data


def _post_chunked(client: Any, url: str, upload: Upload) -> Any:
    return client.post(url, content=iter(upload), headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


def _assert_413(res: Any, code: str, limit: int) -> None:
    assert res.status_code == 413, res.text
    assert res.headers["content-type"] == PROBLEM
    assert "content-length" not in res.request.headers
    body = res.json()
    assert (body["code"], body["limit"]) == (code, limit)


def test_chunked_oversize_seal_is_cut_off_while_streaming(
        live: Any, ctx: Context, demo_code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over a real socket: the 413 comes back while most of the upload is still unsent."""
    limit = 100_000
    monkeypatch.setattr(ctx.settings, "max_document_bytes", limit)
    upload = Upload({"municipality": demo_code}, "document", total=256 * 1024 * 1024)
    with live.client() as http:
        login_demo_person(http, ctx, "employee", demo_code)
        try:
            res = _post_chunked(http, "/signing/seal", upload)
        except httpx.TransportError:
            res = None  # the server closed the connection mid-upload, as it should
    if res is not None:
        _assert_413(res, "document_too_large", limit)
    # Reading stopped at the cap: most of the 256 MiB was never taken in.
    assert upload.sent < 64 * 1024 * 1024, upload.sent


@pytest.mark.parametrize("path", ["/signing/seal", "/signing/extend", "/signing/timestamp"])
def test_chunked_oversize_signing_uploads_get_413(registrar: Any, ctx: Context, demo_code: str,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  path: str) -> None:
    limit = 100_000
    monkeypatch.setattr(ctx.settings, "max_document_bytes", limit)
    upload = Upload({"municipality": demo_code, "level": "B-LT"}, "document",
                    total=4 * 1024 * 1024)
    _assert_413(_post_chunked(registrar, path, upload), "document_too_large", limit)


def test_chunked_oversize_registry_entry_gets_413(client: Any, ctx: Context, demo_code: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from identity import SESSION_COOKIE
    from tests.registry.conftest import principal

    client.cookies.set(SESSION_COOKIE, ctx.login_sessions.open(principal(demo_code)))
    limits = dataclasses.replace(ctx.registry.limits, max_entry_bytes=10_000)
    monkeypatch.setattr(ctx.registry, "limits", limits)
    upload = Upload({"entry": "{}"}, "attachments", total=4 * 1024 * 1024)
    res = _post_chunked(client, f"/registry/{demo_code}/entries", upload)
    _assert_413(res, "payload_too_large", 10_000)



def test_chunked_oversize_validation_upload_is_cut_off_while_streaming(
        live: Any, ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation is anonymous, so its cap matters most: a document and its detached
    content, each up to the document limit, and nothing more is read."""
    limit = 100_000
    monkeypatch.setattr(ctx.settings, "max_document_bytes", limit)
    upload = Upload({"offline": "true"}, "document", total=256 * 1024 * 1024)
    with live.client() as http:
        try:
            res = _post_chunked(http, "/validation", upload)
        except httpx.TransportError:
            res = None
    if res is not None:
        _assert_413(res, "validation_document_too_large", limit)
    assert upload.sent < 64 * 1024 * 1024, upload.sent
