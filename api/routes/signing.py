"""Sealing, timestamping and extension over HTTP, and eLocal's RFC 3161 TSA.

- ``POST /signing/seal``: multipart ``document`` + form fields → the sealed file;
- ``POST /signing/timestamp``: multipart ``document`` → ``application/timestamp-reply``;
- ``POST /signing/extend``: multipart ``document`` → the document at a higher level;
- ``POST /tsa``: ``application/timestamp-query`` → ``application/timestamp-reply``.

Sealing results are produced into a temporary spool (memory, then disk above
``spool_threshold_bytes``) and sent only once complete; a failed request leaves
nothing behind. Who may seal is decided by ``authorize_sealing`` alone, the same in
every environment: a registrar of the municipality in a login session, or that
municipality's application with a client_credentials access token carrying the
``seal`` scope. The TSA endpoints are public, rate-limited per client address.
Three-phase signing needs a login session and the session owner's certificate.
"""

from __future__ import annotations

import base64
import hashlib
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Annotated

from cryptography import x509
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.context import Context
from api.deps import CurrentPrincipal, OptionalPrincipal, bearer_token, get_context
from api.routes.oidc import client_certificate
from certs.pathvalidation import MalformedCertificate
from identity import AMR_POP, SESSION_COOKIE, Principal
from identity.clientcert import client_address
from identity.oidc import ClientAccess
from identity.oidc.errors import InsufficientScope, InvalidToken
from infra.errors import ElocalError, Forbidden, InvalidInput, PayloadTooLarge, Unauthenticated
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


#: The staff role that may apply the municipality's seal in person.
REGISTRAR_ROLE = "registrar"
#: The OAuth scope an application needs to apply its municipality's seal.
SEAL_SCOPE = "seal"


@dataclass(frozen=True)
class SealingCaller:
    """Who asks for a seal: a person in a login session or an application with a token."""

    principal: Principal | None = None
    app: ClientAccess | None = None


def sealing_caller(request: Request, principal: OptionalPrincipal) -> SealingCaller:
    """Authenticate the caller (401) before the request body is read.

    A bearer token, when sent, is what counts: a bad token is refused even if a session
    cookie rides along, so that a client never acts under an identity it did not choose.
    """
    ctx: Context = request.app.state.ctx
    token = bearer_token(request)
    if token is not None:
        try:
            app = ctx.oidc.client_access(token, scope=SEAL_SCOPE,
                                         certificate=client_certificate(request, ctx))
        except InvalidToken as exc:
            raise Unauthenticated(f"the access token is not valid: {exc.detail}") from None
        except InsufficientScope as exc:
            raise SealingNotAuthorized(exc.detail, required_scope=SEAL_SCOPE) from None
        return SealingCaller(app=app)
    if principal is None:
        raise Unauthenticated("log in as a registrar of the municipality, or present an "
                              f"access token with the {SEAL_SCOPE!r} scope")
    return SealingCaller(principal=principal)


def authorize_sealing(caller: SealingCaller, municipality_code: str) -> None:
    """The single decision point for who may use a municipal seal over HTTP.

    In-process callers (``Context.sealer``, the CLI) are not affected.
    """
    if caller.app is not None:
        if caller.app.municipality_code != municipality_code:
            raise SealingNotAuthorized("the application belongs to another municipality")
        return
    p = caller.principal
    if p is None or p.municipality_code != municipality_code:
        raise SealingNotAuthorized("the session is not of this municipality")
    if p.capacity != "employee" or REGISTRAR_ROLE not in p.roles:
        raise SealingNotAuthorized(f"only public employees with the {REGISTRAR_ROLE!r} role "
                                   "may apply the seal", required_role=REGISTRAR_ROLE)


SealCaller = Annotated[SealingCaller, Depends(sealing_caller)]


class TooManyTimestampRequests(ElocalError):
    code = "too_many_requests"
    status = 429
    title = "Too many timestamp requests from this address"


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_seconds: int


#: The public TSA endpoints: requests per client address and window (fixed window).
TIMESTAMP_RATE_LIMIT = RateLimit(requests=120, window_seconds=60)


def limit_timestamping(request: Request) -> None:
    """Count this request against its client address; 429 with Retry-After beyond the limit.

    The address is the TCP peer, or what a trusted proxy forwarded for (never a header
    the client chose). Only a digest of it is stored.
    """
    ctx: Context = request.app.state.ctx
    limit = TIMESTAMP_RATE_LIMIT
    address = client_address(request.client.host if request.client else None,
                             request.headers.get("x-forwarded-for"),
                             ctx.settings.proxy_networks)
    key = "ratelimit:tsa:" + hashlib.sha256(address.encode()).hexdigest()
    count = ctx.state.incr(key, limit.window_seconds)
    if count > limit.requests:
        left = ctx.state.ttl(key)
        raise TooManyTimestampRequests(
            f"at most {limit.requests} timestamp requests per {limit.window_seconds} s",
            limit=limit.requests, window_seconds=limit.window_seconds,
            retry_after=max(1, math.ceil(left if left is not None else limit.window_seconds)))


TimestampQuota = Annotated[None, Depends(limit_timestamping)]
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


def _docmdp(form: SealForm) -> int:
    """The certification's DocMDP permission: 1 no changes, 2 form filling (default), 3 also
    annotations."""
    value = (form.get("docmdp") or "2").strip()
    if value not in ("1", "2", "3"):
        raise UnsupportedOption("docmdp must be 1, 2 or 3", field="docmdp", allowed=[1, 2, 3])
    return int(value)


@router.post("/signing/seal", summary="Seal a PDF (PAdES) or XML (XAdES) document")
async def seal(ctx: CtxDep, caller: SealCaller, form: Form) -> Response:
    municipality = form.require("municipality")
    authorize_sealing(caller, municipality)
    fmt = _format(form)
    level = Level.parse(form.get("level") or "B-B")
    sealer = ctx.sealer
    if fmt == "pades":
        cfg = await run_in_threadpool(sealer.config, municipality)
        out = _spool(ctx)
        try:
            form.upload.file.seek(0)
            # pyHanko signs synchronously under its async API (and the TSA client is a
            # blocking one), so the seal runs on a worker thread, not the event loop.
            await run_in_threadpool(sealer.seal_pdf_to, out, municipality, form.upload.file,
                                    level, stamp=_stamp(form, cfg.name),
                                    certify=form.flag("certify"),
                                    age_policy=form.flag("age_policy"),
                                    docmdp=_docmdp(form))
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
async def extend(ctx: CtxDep, caller: SealCaller, form: Form) -> Response:
    municipality = form.require("municipality")
    authorize_sealing(caller, municipality)
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
async def timestamp(request: Request, ctx: CtxDep, principal: OptionalPrincipal,
                    _: TimestampQuota, form: Form) -> Response:
    """Anyone may use eLocal's own TSA; a municipality's external TSA (which it may pay
    for per token) only a caller who may also use that municipality's seal."""
    from asn1crypto import cms, tsp

    municipality = form.get("municipality") or None
    if municipality is not None:
        authorize_sealing(sealing_caller(request, principal), municipality)
    data = form.read()
    token = await run_in_threadpool(ctx.sealer.timestamp, data,
                                    municipality_code=municipality)
    reply = tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": "granted"}),
                               "time_stamp_token": cms.ContentInfo.load(token)})
    return Response(reply.dump(), media_type=TSR)


class CertificateNotYours(Forbidden):
    code = "certificate_not_yours"
    title = "The certificate is not the logged-in person's"


def _owner(request: Request, principal: Principal) -> str:
    """Who may complete a pre-signed document: this person, in this very session."""
    sid = request.cookies.get(SESSION_COOKIE, "")
    return (f"{principal.municipality_code}:{principal.subject}|"
            f"{hashlib.sha256(sid.encode()).hexdigest()}")


async def _signer_certificate(request: Request, ctx: Context, principal: Principal,
                              value: str) -> bytes:
    """The certificate (and chain) sent, once it is shown to be the session owner's.

    It goes through the same validation as a login (trust store, revocation, profile)
    for the session's municipality; a different person's certificate, or a home-made one
    carrying the person's identifier, is refused.
    """
    raw = _cert_bytes(value)
    try:
        certs = (x509.load_pem_x509_certificates(raw) if b"-----BEGIN" in raw
                 else [x509.load_der_x509_certificate(raw)])
    except ValueError:
        raise InvalidInput("the certificate cannot be read", field="certificate") from None
    client = client_address(request.client.host if request.client else None,
                            request.headers.get("x-forwarded-for"), ctx.settings.proxy_networks)
    try:
        holder = await ctx.certificate_login.authenticate(
            ctx.transaction, principal.municipality_code, certs[:5], amr=AMR_POP,
            client=client)
    except MalformedCertificate:
        raise InvalidInput("the certificate cannot be read", field="certificate") from None
    except Unauthenticated as exc:
        raise CertificateNotYours(f"the certificate was not accepted: {exc.detail}") from None
    if holder.subject != principal.subject:
        raise CertificateNotYours("the certificate names someone other than the person "
                                  "logged in")
    return raw


@router.post("/signing/three-phase/pre", summary="Three-phase signing: prepare a PDF")
async def presign(request: Request, ctx: CtxDep, principal: CurrentPrincipal,
                  form: Form) -> dict[str, object]:
    """Returns the bytes the citizen's device must sign (base64) and a single-use token.

    The token can be completed only in this session and with this certificate.
    """
    cert = form.fields.get("certificate")
    if not cert:
        raise InvalidInput("the form field 'certificate' (PEM or base64 DER) is required",
                           field="certificate")
    signer = ctx.three_phase
    signer.check_size(form.upload.size if form.upload.size is not None else 0)
    cert_bytes = await _signer_certificate(request, ctx, principal, cert)
    pre = await run_in_threadpool(signer.presign_pdf, form.read(), cert_bytes,
                                  form.get("level") or "B-B", owner=_owner(request, principal))
    return {"token": pre.token, "data_to_sign": base64.b64encode(pre.data_to_sign).decode(),
            "digest_algorithm": pre.digest_algorithm,
            "signature_algorithm": pre.signature_algorithm, "expires_in": pre.expires_in}


class PostSign(BaseModel):
    token: str = Field(max_length=200)
    certificate: str = Field(max_length=20_000, description="PEM or base64 DER")
    signature: str = Field(max_length=4_000, description="base64 signature value")


@router.post("/signing/three-phase/post", summary="Three-phase signing: complete a PDF")
async def postsign(request: Request, ctx: CtxDep, principal: CurrentPrincipal,
                   body: PostSign) -> Response:
    try:
        signature = base64.b64decode(body.signature, validate=True)
    except ValueError:
        raise InvalidInput("signature must be base64", field="signature") from None
    pdf = await run_in_threadpool(ctx.three_phase.postsign_pdf, body.token,
                                  _cert_bytes(body.certificate), signature,
                                  owner=_owner(request, principal))
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
async def tsa(request: Request, ctx: CtxDep, _: TimestampQuota) -> Response:
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


