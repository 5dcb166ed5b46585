"""The PKI's public endpoints: CA certificates, CRLs and the OCSP responder.

These URLs are written into every certificate of the deployment's CA (AIA and CRL
distribution points), so relying parties reach them without authentication.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Ctx, Db
from certs.ocsp import MAX_REQUEST_BYTES, OcspMalformedRequest
from infra.errors import ElocalError, PayloadTooLarge

router = APIRouter(prefix="/pki", tags=["pki"])

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
# Revocation must show at once; caches may store but must revalidate.
_NO_STALE = {"Cache-Control": "no-cache"}


class UnsupportedMediaType(ElocalError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


@router.get("/ca/{ca}.cer")
def ca_certificate(ca: str, ctx: Ctx) -> Response:
    """A CA certificate in DER (the caIssuers URL of the AIA extension)."""
    cert = ctx.pki.ca(ca).certificate
    return Response(cert.public_bytes(serialization.Encoding.DER),
                    media_type="application/pkix-cert")


@router.get("/crl/{ca}.crl")
def crl(ca: str, ctx: Ctx, db: Db) -> Response:
    """The CA's current CRL in DER."""
    der = ctx.pki.crl_publisher.crl(db, ca)
    return Response(der, media_type="application/pkix-crl", headers=_NO_STALE)


@router.post("/ocsp")
async def ocsp_post(request: Request, ctx: Ctx, db: Db) -> Response:
    """RFC 6960 §A.1 POST: the DER request is the body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != OCSP_REQUEST:
        raise UnsupportedMediaType(f"send the OCSP request as {OCSP_REQUEST}",
                                   expected=OCSP_REQUEST)
    body = await _read_limited(request)
    return _ocsp_response(ctx.pki.ocsp_responder.respond(db, body))


@router.get("/ocsp/{encoded:path}")
def ocsp_get(encoded: str, ctx: Ctx, db: Db) -> Response:
    """RFC 6960 §A.1 GET: the DER request, base64 then URL-encoded, is the last path part."""
    if len(encoded) > MAX_REQUEST_BYTES * 2:
        raise PayloadTooLarge("OCSP request too large", limit=MAX_REQUEST_BYTES)
    try:
        body = base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OcspMalformedRequest("the URL does not hold a base64 OCSP request") from exc
    return _ocsp_response(ctx.pki.ocsp_responder.respond(db, body))


def _ocsp_response(der: bytes) -> Response:
    return Response(der, media_type=OCSP_RESPONSE, headers=_NO_STALE)


async def _read_limited(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise PayloadTooLarge(f"OCSP requests are limited to {MAX_REQUEST_BYTES} bytes",
                                  limit=MAX_REQUEST_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)
