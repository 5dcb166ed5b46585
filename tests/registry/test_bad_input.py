"""Bad submissions get a clean problem+json and leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.context import Context
from registry.attachments import AttachmentLimits
from registry.log import LogLeaf
from registry.models import RegistryAttachment, RegistryCounter, RegistryEntry, RegistryEvent
from tests.registry.conftest import entry_body, minimal_pdf, submit


def _footprint(ctx: Context) -> tuple[int, ...]:
    with ctx.sessions() as s:
        rows = tuple(int(s.scalar(select(func.count()).select_from(m)) or 0)
                     for m in (RegistryEntry, RegistryAttachment, RegistryEvent,
                               RegistryCounter, LogLeaf))
    blobs = sum(1 for p in ctx.blobs.root.rglob("*") if p.is_file())
    return (*rows, blobs)


@pytest.fixture
def unchanged(ctx: Context) -> Iterator[None]:
    before = _footprint(ctx)
    yield
    assert _footprint(ctx) == before


@pytest.fixture
def small_limits(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> AttachmentLimits:
    limits = AttachmentLimits(max_file_bytes=1000, max_entry_bytes=1500, max_count=3,
                              allowed_types=ctx.registry.limits.allowed_types)
    monkeypatch.setattr(ctx.registry, "limits", limits)
    return limits


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    return body


@pytest.mark.usefixtures("unchanged", "small_limits")
def test_oversized_attachment(citizen: httpx.Client, demo_code: str) -> None:
    r = submit(citizen, demo_code, files=[("ok.txt", b"a" * 10, "text/plain"),
                                          ("big.txt", b"b" * 1001, "text/plain")])
    body = _problem(r, 413, "attachment_too_large")
    assert body["limit"] == 1000 and body["attachment"] == "big.txt"


@pytest.mark.usefixtures("unchanged", "small_limits")
def test_per_entry_limit_and_count(citizen: httpx.Client, demo_code: str) -> None:
    r = submit(citizen, demo_code, files=[("a.txt", b"a" * 900, "text/plain"),
                                          ("b.txt", b"b" * 900, "text/plain")])
    _problem(r, 413, "entry_too_large")
    r = submit(citizen, demo_code, files=[(f"{i}.txt", b"x", "text/plain") for i in range(4)])
    _problem(r, 413, "too_many_attachments")


@pytest.mark.usefixtures("unchanged")
def test_disallowed_type_and_unparsable_pdf(citizen: httpx.Client, demo_code: str) -> None:
    r = submit(citizen, demo_code, files=[("run.exe", b"MZ\x90\x00", "application/x-msdownload")])
    _problem(r, 415, "attachment_type_rejected")
    broken = minimal_pdf()[:200]
    r = submit(citizen, demo_code, files=[("good.pdf", minimal_pdf(), "application/pdf"),
                                          ("broken.pdf", broken, "application/pdf")])
    assert "broken.pdf" in _problem(r, 422, "attachment_unreadable")["detail"]
    r = submit(citizen, demo_code, files=[("fake.pdf", b"GIF89a not a pdf", "application/pdf")])
    _problem(r, 422, "attachment_unreadable")


@pytest.mark.usefixtures("unchanged")
def test_unknown_unit_missing_subject_bad_sia(citizen: httpx.Client, demo_code: str) -> None:
    _problem(submit(citizen, demo_code, entry_body(destination_unit="LA0099801")),
             422, "unknown_unit")  # a unit of the *other* municipality
    _problem(submit(citizen, demo_code, entry_body(subject="   ")), 422, "invalid_submission")
    body = entry_body()
    del body["subject"]
    assert _problem(submit(citizen, demo_code, body), 422,
                    "invalid_submission")["field"] == "subject"
    _problem(submit(citizen, demo_code, entry_body(sia_code="12A-34")), 422, "invalid_sia_code")
    _problem(submit(citizen, demo_code, entry_body(unknown_field=1)), 422, "invalid_submission")
    r = citizen.post(f"/registry/{demo_code}/entries", files=[("entry", (None, "{not json"))])
    _problem(r, 422, "invalid_submission")


def test_duplicate_idempotency_key_returns_the_original(
    ctx: Context, citizen: httpx.Client, demo_code: str
) -> None:
    first = submit(citizen, demo_code, headers={"Idempotency-Key": "form-7f3a"})
    assert first.status_code == 201
    before = _footprint(ctx)
    again = submit(citizen, demo_code, headers={"Idempotency-Key": "form-7f3a"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"]
    assert _footprint(ctx) == before
    other = submit(citizen, demo_code, headers={"Idempotency-Key": "form-other"})
    assert other.json()["sequence"] == 2


def test_an_idempotency_key_reused_for_another_submission_is_refused(
    ctx: Context, citizen: httpx.Client, demo_code: str
) -> None:
    first = submit(citizen, demo_code, headers={"Idempotency-Key": "form-9c1d"},
                   files=[("nota.txt", b"hola", "text/plain")])
    assert first.status_code == 201, first.text
    before = _footprint(ctx)
    changed = submit(citizen, demo_code, entry_body(subject="Otra solicitud distinta"),
                     headers={"Idempotency-Key": "form-9c1d"},
                     files=[("nota.txt", b"hola", "text/plain")])
    _problem(changed, 422, "idempotency_key_reused")
    other_file = submit(citizen, demo_code, headers={"Idempotency-Key": "form-9c1d"},
                        files=[("nota.txt", b"adios", "text/plain")])
    _problem(other_file, 422, "idempotency_key_reused")
    # No row changed (the refused attachment's bytes may stay in the content store).
    assert _footprint(ctx)[:-1] == before[:-1]
    same = submit(citizen, demo_code, headers={"Idempotency-Key": "form-9c1d"},
                  files=[("nota.txt", b"hola", "text/plain")])
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]


def test_a_missing_attachment_position_is_not_found(citizen: httpx.Client,
                                                     demo_code: str) -> None:
    entry = submit(citizen, demo_code, files=[("nota.txt", b"hola", "text/plain")]).json()
    base = f"/registry/{demo_code}/entries/{entry['id']}/attachments"
    assert citizen.get(f"{base}/1").content == b"hola"
    _problem(citizen.get(f"{base}/2"), 404, "registry_attachment_not_found")
    _problem(citizen.get(f"{base}/0"), 404, "registry_attachment_not_found")


def test_requests_without_a_caller_are_refused(live: Any, demo_code: str) -> None:
    with live.client() as anonymous:
        _problem(submit(anonymous, demo_code), 401, "unauthenticated")
        forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
        _problem(submit(anonymous, demo_code, headers=forged), 401, "invalid_token")
