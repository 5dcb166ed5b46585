"""The electronic registry over HTTP: entries, exits, queries, official time, receipts.

Submissions are ``multipart/form-data`` with a JSON part ``entry`` and any number
of ``attachments`` file parts. The caller is the session's principal, or the
principal behind an OIDC access token (``Authorization: Bearer``): a person's,
delegated with the ``registry`` scope, or a municipal application's own, with
``registry:exits``. Everything under ``/registry/{municipality}`` is private to
that municipality; ``/registry/receipts/{code}`` is public (see ``receipt_view``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from api.context import Context
from api.deps import Ctx, bearer_token, current_principal
from api.routes.oidc import client_certificate
from identity.oidc.errors import InsufficientScope
from identity.sessions import Principal
from infra.errors import PayloadTooLarge, Unauthenticated
from registry.actors import APPLICATION
from registry.attachments import Upload
from registry.errors import AttachmentNotFound, InvalidSubmission
from registry.interchange import ENI, SICRES3, Export
from registry.leaves import entry_content, instant
from registry.models import ENTRY, EXIT, RegistryEntry
from registry.service import SearchFilters, Submission

router = APIRouter(prefix="/registry", tags=["registry"])

#: The scope a person grants an application to use the registry on their behalf.
REGISTRY_SCOPE = "registry"
#: The scope of a municipal application that registers exits as itself.
EXITS_SCOPE = "registry:exits"
#: Threads that run registrations in one worker (see ``_registration_threads``).
REGISTRATION_THREADS = 8
T = TypeVar("T")
#: Room for the JSON part and multipart framing on top of the attachment limit.
_FORM_OVERHEAD = 1024 * 1024


def _token_principal(ctx: Context, request: Request, token: str) -> Principal:
    """The principal an access token stands for on the registry.

    An application acting for a person (authorization-code token with ``registry``)
    acts as that person, never with their roles; an application acting as itself
    (client_credentials with ``registry:exits``) is an ``application`` principal, which
    the registry lets register exits and read what it registered.
    """
    # A bad token is a 401 ``invalid_token`` (RFC 6750), never a fall back to the session.
    access = ctx.oidc.access(token, certificate=client_certificate(request, ctx))
    if access.person is not None:
        if REGISTRY_SCOPE not in access.scopes:
            raise InsufficientScope("the access token lacks the registry scope",
                                    required_scope=REGISTRY_SCOPE)
        return access.person
    if EXITS_SCOPE not in access.scopes:
        raise InsufficientScope(f"the application's token lacks the {EXITS_SCOPE} scope",
                                required_scope=EXITS_SCOPE)
    return Principal(
        subject=f"app:{access.client_id}", capacity=APPLICATION,
        identity={"name": access.client_name or access.client_id,
                  "client_id": access.client_id},
        loa="", roles=(), municipality_code=access.municipality_code, amr=(), auth_time=0,
    )


def registry_principal(
    request: Request, ctx: Ctx,
    session: Annotated[Principal | None, Depends(current_principal)],
) -> Principal:
    """The caller: a bearer token when one is sent (then only it counts), else the session."""
    token = bearer_token(request)
    if token is not None:
        return _token_principal(ctx, request, token)
    if session is None:
        raise Unauthenticated("log in, or present an access token with the registry scope")
    return session


Caller = Annotated[Principal, Depends(registry_principal)]


def entry_view(ctx: Context, entry: RegistryEntry) -> dict[str, Any]:
    """An entry as its holder (party or registrar) sees it."""
    base = f"/registry/{entry.municipality_code}/entries/{entry.id}"
    view = entry_content(entry)
    # The API names the displayed number "number" and the bare counter "sequence".
    view["sequence"] = view.pop("number")
    view["number"] = view.pop("display_number")
    return {
        **view,
        "annulled": entry.annulled,
        "attachments": [
            {"position": a.position + 1, "name": a.name, "size": a.size, "mime": a.mime,
             "sha256": a.sha256, "href": f"{base}/attachments/{a.position + 1}"}
            for a in entry.attachments
        ],
        "receipt": {
            "verification_code": entry.verification_code,
            "verification_url": ctx.registry.verification_url(entry.verification_code),
            "pdf": f"{base}/receipt.pdf",
            "xml": f"{base}/receipt.xml",
            "eni": f"{base}/receipt.eni.xml",
            "pdf_sha256": entry.receipt_pdf_sha256,
            "xml_sha256": entry.receipt_xml_sha256,
            "leaf_index": entry.leaf_index,
        },
        "history": f"{base}/history",
        "sicres3": f"{base}/sicres3.xml",
    }


def receipt_view(entry: RegistryEntry) -> dict[str, Any]:
    """What anyone holding a verification code learns: the receipt's public facts.

    The code proves possession of the receipt, so the sealed PDF and XML (which the
    holder already has) can be fetched with it; this JSON adds the entry's current
    status and leaves out names, identifiers, subject and texts, so a code seen
    over someone's shoulder reveals no personal data beyond "this receipt exists".
    """
    base = f"/registry/receipts/{entry.verification_code}"
    return {
        "verification_code": entry.verification_code,
        "municipality": entry.municipality_code,
        "office": entry.office_code,
        "kind": entry.kind,
        "number": entry.display_number,
        "registered_at": instant(entry.registered_at),
        "effective_at": instant(entry.effective_at),
        "status": "annulled" if entry.annulled else "registered",
        "attachments": [{"size": a.size, "sha256": a.sha256} for a in entry.attachments],
        "receipt": {"pdf": f"{base}/pdf", "xml": f"{base}/xml",
                    "pdf_sha256": entry.receipt_pdf_sha256,
                    "xml_sha256": entry.receipt_xml_sha256},
        "log": {"leaf_index": entry.leaf_index,
                "checkpoint": f"/registry/{entry.municipality_code}/log/checkpoint"},
    }


# -- public -----------------------------------------------------------------------------

@router.get("/receipts/{code}")
def verify_receipt(code: str, ctx: Ctx) -> dict[str, Any]:
    return receipt_view(ctx.registry.by_verification_code(code))


@router.get("/receipts/{code}/pdf")
def receipt_pdf_by_code(code: str, ctx: Ctx) -> Response:
    entry = ctx.registry.by_verification_code(code)
    return _blob(ctx, entry.receipt_pdf_sha256, "application/pdf",
                 f"justificante-{entry.verification_code}.pdf")


@router.get("/receipts/{code}/xml")
def receipt_xml_by_code(code: str, ctx: Ctx) -> Response:
    entry = ctx.registry.by_verification_code(code)
    return _blob(ctx, entry.receipt_xml_sha256, "application/xml",
                 f"justificante-{entry.verification_code}.xml")


@router.get("/{municipality}/time")
def official_time(municipality: str, ctx: Ctx) -> dict[str, Any]:
    """The sede's official date and time (Ley 39/2015 art. 31), public."""
    return ctx.registry.official_time(municipality)


# -- submissions ------------------------------------------------------------------------

async def _read_submission(ctx: Context, request: Request
                           ) -> tuple[Submission, list[Upload], dict[str, Any]]:
    limits = ctx.registry.limits
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limits.max_entry_bytes + _FORM_OVERHEAD:
        raise PayloadTooLarge(
            f"the request exceeds the per-entry limit of {limits.max_entry_bytes} bytes",
            limit=limits.max_entry_bytes,
        )
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        raw: Any = await request.body()
        files: list[UploadFile] = []
    elif ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=limits.max_count + 1, max_fields=10)
        raw = form.get("entry")
        if isinstance(raw, UploadFile):
            raw = await raw.read()
        files = [f for f in form.getlist("attachments") if isinstance(f, UploadFile)]
    else:
        raise InvalidSubmission("send multipart/form-data (entry + attachments) or JSON")
    if raw is None:
        raise InvalidSubmission("the 'entry' part is missing", field="entry")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSubmission("the 'entry' part is not valid JSON", field="entry") from exc
    if not isinstance(data, dict):
        raise InvalidSubmission("the 'entry' part must be a JSON object", field="entry")
    uploads = [Upload(f.filename or "", f.content_type or "", f.file) for f in files]
    return Submission.from_dict({k: v for k, v in data.items() if k != "reason"}), uploads, data


def _registration_threads(request: Request) -> CapacityLimiter:
    """Registrations run on their own few threads, never on the shared threadpool.

    A registration waits, under the municipality's lock, for the seal's time-stamp
    from ``/tsa``, which this same worker may have to answer on the shared pool;
    if registrations could fill that pool, they would wait for each other forever.
    They queue on the database lock anyway, so a few threads lose no throughput.
    """
    limiter = getattr(request.app.state, "registry_limiter", None)
    if limiter is None:
        limiter = request.app.state.registry_limiter = CapacityLimiter(REGISTRATION_THREADS)
    return limiter  # type: ignore[no-any-return]


async def _in_registry_thread(request: Request, fn: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(partial(fn, *args),
                                          limiter=_registration_threads(request))


async def _submit(kind: str, municipality: str, request: Request, ctx: Context,
                  principal: Principal) -> Response:
    sub, uploads, _ = await _read_submission(ctx, request)
    key = request.headers.get("idempotency-key")
    result = await _in_registry_thread(request, ctx.registry.submit, principal, municipality,
                                       kind, sub, uploads, key)
    body = entry_view(ctx, result.entry)
    headers = {"Location": f"/registry/{municipality}/entries/{result.entry.id}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        # W3C Server-Timing: how long the registration took and how much of it was sealing.
        headers["Server-Timing"] = (f"seal;dur={result.seal_seconds * 1000:.1f}, "
                                    f"register;dur={result.total_seconds * 1000:.1f}")
    return Response(json.dumps(body), status_code=200 if result.replayed else 201,
                    media_type="application/json", headers=headers)


@router.post("/{municipality}/entries", status_code=201)
async def submit_entry(municipality: str, request: Request, ctx: Ctx, caller: Caller
                       ) -> Response:
    """Register an entry (entrada) with its sealed receipt."""
    return await _submit(ENTRY, municipality, request, ctx, caller)


@router.post("/{municipality}/exits", status_code=201)
async def submit_exit(municipality: str, request: Request, ctx: Ctx, caller: Caller
                      ) -> Response:
    """Register an exit (salida): registrars and authorised municipal apps."""
    return await _submit(EXIT, municipality, request, ctx, caller)


@router.post("/{municipality}/entries/{entry_id}/rectification", status_code=201)
async def rectify(municipality: str, entry_id: str, request: Request, ctx: Ctx,
                  caller: Caller) -> dict[str, Any]:
    """A registrar's correction: a new entry referencing the original (``reason`` in JSON)."""
    sub, uploads, data = await _read_submission(ctx, request)
    entry = await _in_registry_thread(request, ctx.registry.rectify, caller, municipality,
                                      entry_id, sub, str(data.get("reason") or ""), uploads)
    return entry_view(ctx, entry)


@router.post("/{municipality}/entries/{entry_id}/annulment")
async def annul(municipality: str, entry_id: str, request: Request, ctx: Ctx,
                caller: Caller) -> dict[str, Any]:
    """Annul an entry: an event with reason and actor; the entry itself is kept."""
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InvalidSubmission("the body is not valid JSON") from exc
    reason = str(data.get("reason") or "") if isinstance(data, dict) else ""
    event = await _in_registry_thread(request, ctx.registry.annul, caller, municipality,
                                      entry_id, reason)
    return {"event": event.kind, "at": instant(event.at), "reason": event.reason,
            "actor": event.actor, "leaf_index": event.leaf_index}


# -- queries ----------------------------------------------------------------------------

@router.get("/{municipality}/entries")
def search(
    municipality: str, ctx: Ctx, caller: Caller,
    number: str | None = None,
    kind: Annotated[str | None, Query(pattern="^[ES]$")] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    party: str | None = None,
    unit: str | None = None,
    sia_code: Annotated[str | None, Query(alias="sia")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Registrars search the municipality's registry; citizens list their own entries."""
    filters = SearchFilters(number=number, kind=kind, date_from=date_from, date_to=date_to,
                            party=party, unit=unit, sia_code=sia_code, limit=limit,
                            offset=offset)
    entries = ctx.registry.search(caller, municipality, filters)
    return {"entries": [entry_view(ctx, e) for e in entries], "limit": limit,
            "offset": offset}


@router.get("/{municipality}/entries/{entry_id}")
def get_entry(municipality: str, entry_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return entry_view(ctx, ctx.registry.get(caller, municipality, entry_id))


@router.get("/{municipality}/entries/{entry_id}/history")
def history(municipality: str, entry_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return {"events": ctx.registry.history(caller, municipality, entry_id)}


@router.get("/{municipality}/entries/{entry_id}/receipt.pdf")
def receipt_pdf(municipality: str, entry_id: str, ctx: Ctx, caller: Caller) -> Response:
    entry = ctx.registry.get(caller, municipality, entry_id)
    return _blob(ctx, entry.receipt_pdf_sha256, "application/pdf",
                 f"justificante-{entry.verification_code}.pdf")


@router.get("/{municipality}/entries/{entry_id}/receipt.xml")
def receipt_xml(municipality: str, entry_id: str, ctx: Ctx, caller: Caller) -> Response:
    entry = ctx.registry.get(caller, municipality, entry_id)
    return _blob(ctx, entry.receipt_xml_sha256, "application/xml",
                 f"justificante-{entry.verification_code}.xml")


@router.get("/{municipality}/entries/{entry_id}/sicres3.xml")
def sicres3(municipality: str, entry_id: str, ctx: Ctx, caller: Caller) -> Response:
    """The entry as a SICRES 3.0 interchange file, attachments included."""
    return _export(ctx.registry.interchange(caller, municipality, entry_id, SICRES3))


@router.get("/{municipality}/entries/{entry_id}/receipt.eni.xml")
def receipt_eni(municipality: str, entry_id: str, ctx: Ctx, caller: Caller) -> Response:
    """The sealed receipt as an ENI documento-e."""
    return _export(ctx.registry.interchange(caller, municipality, entry_id, ENI))


def _export(export: Export) -> Response:
    def chunks() -> Iterator[bytes]:
        with export.content as f:
            yield from iter(lambda: f.read(1 << 20), b"")

    return StreamingResponse(chunks(), media_type=export.media_type, headers={
        "Content-Length": str(export.size),
        "Content-Disposition": f'attachment; filename="{export.filename}"',
    })


@router.get("/{municipality}/entries/{entry_id}/attachments/{position}")
def attachment(municipality: str, entry_id: str, position: int, ctx: Ctx,
               caller: Caller) -> Response:
    entry = ctx.registry.get(caller, municipality, entry_id)
    match = [a for a in entry.attachments if a.position + 1 == position]
    if not match:
        raise AttachmentNotFound(f"the entry has no attachment {position}", position=position)
    a = match[0]
    return _blob(ctx, a.sha256, a.mime, a.name)


def _blob(ctx: Context, digest: str, media_type: str, filename: str) -> Response:
    from fastapi.responses import FileResponse

    b64 = base64.b64encode(bytes.fromhex(digest)).decode()
    return FileResponse(ctx.blobs.path(digest), media_type=media_type, filename=filename,
                        headers={"Repr-Digest": f"sha-256=:{b64}:"})
