"""Sealing, timestamping and extension over HTTP, and eLocal's RFC 3161 TSA.

- ``POST /signing/seal``: multipart ``document`` + form fields → the sealed file;
- ``POST /signing/timestamp``: multipart ``document`` → ``application/timestamp-reply``;
- ``POST /signing/extend``: multipart ``document`` → the document at a higher level;
- ``POST /tsa``: ``application/timestamp-query`` → ``application/timestamp-reply``.

Sealing results are produced into a temporary spool (memory, then disk above
``spool_threshold_bytes``) and sent only once complete; a failed request leaves
nothing behind. Who may seal is decided by ``authorize_sealing`` alone.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.context import Context
from api.deps import get_context
from infra.errors import Forbidden, InvalidInput, PayloadTooLarge
from signing import DocumentTooLarge, Level, Stamp, UnsupportedOption
from signing.timestamps import TSQ, TSR
from signing.tsa import MAX_REQUEST_BYTES

router = APIRouter(tags=["signing"])

#: Room for the multipart envelope and form fields around the document.
_MULTIPART_OVERHEAD = 64 * 1024
_FORMATS = {"pades": "application/pdf", "xades": "application/xml"}


class SealingNotAuthorized(Forbidden):
    code = "sealing_not_authorized"
    title = "This caller may not use the municipality's seal"


def authorize_sealing(request: Request) -> None:
    """The single decision point for who may use a municipal seal over HTTP.

    Development deployments accept any caller, so that the demo and tests can seal;
    production refuses until the identity policy (registrars, municipal apps) is
    plugged in here. In-process callers (``Context.sealer``) are not affected.
    """
    ctx: Context = request.app.state.ctx
    if ctx.settings.environment != "development":
        raise SealingNotAuthorized("sealing over HTTP is not enabled for any caller yet")


SealAuthorized = Annotated[None, Depends(authorize_sealing)]
CtxDep = Annotated[Context, Depends(get_context)]


class SealForm:
    """The multipart request shared by seal, timestamp and extend, read under the limits."""

    def __init__(self, upload: UploadFile, fields: dict[str, str]) -> None:
        self.upload = upload
        self.fields = fields

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.fields.get(name, default)

    def flag(self, name: str) -> bool:
        value = self.fields.get(name, "false").strip().lower()
        if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise InvalidInput(f"{name} must be true or false", field=name)
        return value in ("true", "1", "yes", "on")

    def require(self, name: str) -> str:
        value = self.fields.get(name)
        if not value:
            raise InvalidInput(f"the form field {name!r} is required", field=name)
        return value

    def read(self) -> bytes:
        self.upload.file.seek(0)
        return self.upload.file.read()


async def read_form(request: Request, ctx: CtxDep) -> Iterator[SealForm]:  # type: ignore[misc]
    limit = ctx.settings.max_document_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
        raise DocumentTooLarge(f"the request has {declared} bytes; documents are limited to "
                               f"{limit}", limit=limit)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise InvalidInput("send the document as multipart/form-data (field 'document')")
    form = await request.form(max_files=1, max_fields=20, max_part_size=64 * 1024)
    try:
        upload = form.get("document")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the multipart field 'document' (a file) is required",
                               field="document")
        if upload.size is not None and upload.size > limit:
            raise DocumentTooLarge(f"the document has {upload.size} bytes; the limit is {limit}",
                                   limit=limit)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        yield SealForm(upload, fields)
    finally:
        await form.close()


Form = Annotated[SealForm, Depends(read_form)]


def _spool(ctx: Context) -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=ctx.settings.spool_threshold_bytes)


def _send(out: IO[bytes], media_type: str, filename: str) -> StreamingResponse:
    size = out.seek(0, 2)
    out.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := out.read(256 * 1024):
                yield chunk
        finally:
            out.close()

    return StreamingResponse(chunks(), media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(size),
    })


def _format(form: SealForm) -> str:
    fmt = (form.get("format") or "pades").strip().lower()
    if fmt not in _FORMATS:
        raise UnsupportedOption(f"unknown format {fmt!r}", allowed=sorted(_FORMATS))
    return fmt


def _stamp(form: SealForm, name: str) -> Stamp | None:
    if not form.flag("stamp"):
        return None
    return Stamp(municipality=name, verification_code=form.get("verification_code"),
                 verification_url=form.get("verification_url"))


@router.post("/signing/seal", summary="Seal a PDF (PAdES) or XML (XAdES) document")
async def seal(ctx: CtxDep, form: Form, _: SealAuthorized) -> Response:
    municipality = form.require("municipality")
    fmt = _format(form)
    level = Level.parse(form.get("level") or "B-B")
    sealer = ctx.sealer
    if fmt == "pades":
        cfg = await run_in_threadpool(sealer.config, municipality)
        out = _spool(ctx)
        try:
            form.upload.file.seek(0)
            await sealer.aseal_pdf_to(out, municipality, form.upload.file, level,
                                      stamp=_stamp(form, cfg.name),
                                      certify=form.flag("certify"),
                                      age_policy=form.flag("age_policy"))
        except BaseException:
            out.close()
            raise
        return _send(out, "application/pdf", f"sealed-{level.value}.pdf")
    data = form.read()
    signed = await run_in_threadpool(
        sealer.seal_xml, municipality, data, level,
        packaging=form.get("packaging") or "enveloped", age_policy=form.flag("age_policy"))
    return Response(signed, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="sealed-{level.value}.xml"'})


@router.post("/signing/extend", summary="Raise an eLocal seal to a higher level")
async def extend(ctx: CtxDep, form: Form, _: SealAuthorized) -> Response:
    municipality = form.require("municipality")
    fmt = _format(form)
    level = Level.parse(form.require("level"))
    if fmt == "pades":
        out = _spool(ctx)
        try:
            form.upload.file.seek(0)
            await run_in_threadpool(ctx.sealer.extend_pdf_to, out, municipality,
                                    form.upload.file, level)
        except BaseException:
            out.close()
            raise
        return _send(out, "application/pdf", f"extended-{level.value}.pdf")
    signed = await run_in_threadpool(ctx.sealer.extend_xml, municipality, form.read(), level)
    return Response(signed, media_type="application/xml")


@router.post("/signing/timestamp", summary="Timestamp a document (RFC 3161 reply)")
async def timestamp(ctx: CtxDep, form: Form) -> Response:
    from asn1crypto import cms, tsp

    data = form.read()
    token = await run_in_threadpool(ctx.sealer.timestamp, data,
                                    municipality_code=form.get("municipality"))
    reply = tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": "granted"}),
                               "time_stamp_token": cms.ContentInfo.load(token)})
    return Response(reply.dump(), media_type=TSR)


@router.post("/signing/three-phase/pre", summary="Three-phase signing: prepare a PDF")
async def presign(ctx: CtxDep, form: Form) -> dict[str, object]:
    """Returns the bytes the citizen's device must sign (base64) and a single-use token."""
    cert = form.fields.get("certificate")
    if not cert:
        raise InvalidInput("the form field 'certificate' (PEM or base64 DER) is required",
                           field="certificate")
    pre = await run_in_threadpool(ctx.three_phase.presign_pdf, form.read(), _cert_bytes(cert),
                                  form.get("level") or "B-B")
    return {"token": pre.token, "data_to_sign": base64.b64encode(pre.data_to_sign).decode(),
            "digest_algorithm": pre.digest_algorithm,
            "signature_algorithm": pre.signature_algorithm, "expires_in": pre.expires_in}


class PostSign(BaseModel):
    token: str = Field(max_length=200)
    certificate: str = Field(max_length=20_000, description="PEM or base64 DER")
    signature: str = Field(max_length=4_000, description="base64 signature value")


@router.post("/signing/three-phase/post", summary="Three-phase signing: complete a PDF")
async def postsign(ctx: CtxDep, body: PostSign) -> Response:
    try:
        signature = base64.b64decode(body.signature, validate=True)
    except ValueError:
        raise InvalidInput("signature must be base64", field="signature") from None
    pdf = await run_in_threadpool(ctx.three_phase.postsign_pdf, body.token,
                                  _cert_bytes(body.certificate), signature)
    return Response(pdf, media_type="application/pdf")


def _cert_bytes(value: str) -> bytes:
    if "-----BEGIN" in value:
        return value.encode()
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise InvalidInput("certificate must be PEM or base64 DER", field="certificate") from None


@router.post("/tsa", summary="RFC 3161 time-stamping authority",
             response_class=Response, responses={200: {"content": {TSR: {}}}})
async def tsa(request: Request, ctx: CtxDep) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != TSQ:
        from starlette.exceptions import HTTPException

        raise HTTPException(415, f"send {TSQ}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise PayloadTooLarge(f"timestamp requests are limited to {MAX_REQUEST_BYTES} bytes",
                                  limit=MAX_REQUEST_BYTES)
    reply = await run_in_threadpool(ctx.tsa.respond, bytes(body))
    return Response(reply, media_type=TSR)


