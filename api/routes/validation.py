"""``POST /validation``: validate the signatures of a PDF or XML document.

Multipart fields: ``document`` (the file), optional ``detached`` (the content of a
detached XML signature), and form fields ``municipality`` (whose trust store to use),
``offline`` (no OCSP/CRL fetching), ``at`` (ISO 8601 point in time) and
``format`` (``json``, the default, or ``etsi`` for the TS 119 102-2 XML report).

A validation outcome is never an HTTP error: a forgery gets ``200`` with a report
that says TOTAL_FAILED. Only unusable requests (no file, too large, bad fields)
get a problem+json 4xx.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import Ctx
from infra import tenancy
from infra.errors import InvalidInput, PayloadTooLarge
from signing.validation import to_etsi_xml
from signing.validation.service import validate_sync

router = APIRouter(tags=["validation"])

_MULTIPART_OVERHEAD = 64 * 1024
_FORMATS = ("json", "etsi")


class ValidationRequestTooLarge(PayloadTooLarge):
    code = "validation_document_too_large"
    title = "The document exceeds the maximum size for validation"


def parse_flag(value: str | None, name: str) -> bool:
    text = (value or "false").strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise InvalidInput(f"{name} must be true or false", field=name)
    return text in ("true", "1", "yes", "on")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("at must be an ISO 8601 date-time", field="at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _read(upload: object, name: str, limit: int) -> bytes | None:
    if upload is None:
        return None
    if not isinstance(upload, UploadFile):
        raise InvalidInput(f"the multipart field {name!r} must be a file", field=name)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationRequestTooLarge(f"{name} is larger than {limit} bytes", limit=limit)
    return data


@router.post("/validation", summary="Validate the PAdES/XAdES signatures of a document")
async def validate_document(request: Request, ctx: Ctx) -> Response:
    limit = ctx.settings.max_document_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > 2 * limit + _MULTIPART_OVERHEAD:
        raise ValidationRequestTooLarge(f"the request has {declared} bytes", limit=limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the document as multipart/form-data (field 'document')")
    form = await request.form(max_files=2, max_fields=10, max_part_size=64 * 1024)
    try:
        document = await _read(form.get("document"), "document", limit)
        if document is None:
            raise InvalidInput(
                "the multipart field 'document' (a file) is required", field="document"
            )
        detached = await _read(form.get("detached"), "detached", limit)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    finally:
        await form.close()
    fmt = (fields.get("format") or "json").strip().lower()
    if fmt not in _FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(_FORMATS)}", field="format")
    offline = parse_flag(fields.get("offline"), "offline")
    at = parse_time(fields.get("at"))
    trust_store: list[str] = []
    code = fields.get("municipality")
    if code:

        def _store() -> list[str]:
            with ctx.transaction() as session:
                return list(
                    tenancy.get_municipality(session, code.strip().upper()).trust_store or []
                )

        trust_store = await run_in_threadpool(_store)
    validator = ctx.validation
    report = await run_in_threadpool(
        validate_sync,
        validator,
        document,
        detached=detached,
        trust_store=trust_store,
        at=at,
        offline=offline,
    )
    if fmt == "etsi":
        return Response(to_etsi_xml(report), media_type="application/xml")
    return JSONResponse(report.to_json())
