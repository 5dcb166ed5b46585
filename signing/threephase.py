"""Three-phase PAdES signing: the signer's private key never leaves their device.

1. ``presign_pdf``: the server prepares the signature field and the CMS signed
   attributes, keeps the prepared document in the state store (short-lived,
   single-use) and returns the DER bytes the client must sign, with an opaque token.
2. The client signs those bytes (PKCS#1 v1.5 or ECDSA with SHA-256) on its device.
3. ``postsign_pdf``: the server checks the token's HMAC, which binds the prepared state
   to the signer's certificate and to the exact bytes to sign, checks the signature
   value against the certificate, and embeds it.

This follows the @firma / AutoFirma model; pyHanko's interrupted signing does the
PDF work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko_certvalidator.registry import SimpleCertificateStore

from infra.errors import Forbidden, InvalidInput
from infra.state import StateStore
from signing import pades
from signing.errors import DocumentTooLarge, UnsupportedOption
from signing.levels import Level
from signing.limits import SigningLimits
from signing.timestamps import HttpTimeStamper, run_sync

_PREFIX = "signing:3p:"


class PresignExpired(InvalidInput):
    code = "presign_expired"
    status = 410
    title = "The pre-signed document has expired or was already completed"


class PresignBindingMismatch(Forbidden):
    code = "presign_binding_mismatch"
    title = "The token does not belong to this certificate and document"


class InvalidSignatureValue(InvalidInput):
    code = "invalid_signature_value"
    title = "The signature value does not verify with the certificate"


@dataclass(frozen=True)
class PreSigned:
    token: str
    #: DER of the CMS SignedAttributes: what the client signs.
    data_to_sign: bytes
    digest_algorithm: str
    signature_algorithm: str
    expires_in: int


def load_or_create_secret(path: Path) -> bytes:
    """A 256-bit HMAC key kept in the data folder (shared by every worker of a deployment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _load_certificates(der_or_pem: bytes) -> list[asn1_x509.Certificate]:
    """The signer's certificate, then any intermediates sent with it (PEM bundle or DER)."""
    try:
        certs = (x509.load_pem_x509_certificates(der_or_pem) if b"-----BEGIN" in der_or_pem
                 else [x509.load_der_x509_certificate(der_or_pem)])
    except ValueError as exc:
        raise InvalidInput(f"the signer certificate cannot be read: {exc}",
                           field="certificate") from None
    return [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in certs[:5]]


class ThreePhaseSigner:
    def __init__(self, state: StateStore, secret: bytes, *, limits: SigningLimits,
                 timestamper: Callable[[], HttpTimeStamper], ttl_seconds: int = 600,
                 max_document_bytes: int = 10 * 1024 * 1024) -> None:
        self._state = state
        self._secret = secret
        self._limits = limits
        self._timestamper = timestamper
        self.ttl_seconds = ttl_seconds
        self.max_document_bytes = min(max_document_bytes, limits.max_document_bytes)

    def _mac(self, state_id: str, cert: asn1_x509.Certificate, tbs: bytes) -> str:
        msg = b"|".join([state_id.encode(), hashlib.sha256(cert.dump()).digest(),
                         hashlib.sha256(tbs).digest()])
        return base64.urlsafe_b64encode(hmac.new(self._secret, msg, "sha256").digest()
                                        ).decode().rstrip("=")

    def presign_pdf(self, pdf: bytes, certificate: bytes, level: str | Level = Level.B_B,
                    *, reason: str | None = None) -> PreSigned:
        lvl = Level.parse(level)
        if lvl.long_term:
            raise UnsupportedOption("three-phase signing produces B-B or B-T; extend the "
                                    "result for the long-term levels", level=lvl.value)
        if len(pdf) > self.max_document_bytes:
            raise DocumentTooLarge(f"three-phase documents are limited to "
                                   f"{self.max_document_bytes} bytes",
                                   limit=self.max_document_bytes)
        certs = _load_certificates(certificate)
        return run_sync(self._apresign(pdf, certs, lvl, reason))

    async def _apresign(self, pdf: bytes, certs: list[asn1_x509.Certificate], level: Level,
                        reason: str | None) -> PreSigned:
        cert = certs[0]
        writer = pades.open_pdf(pdf, self._limits)
        existing = {name for name, *_ in fields.enumerate_sig_fields(writer.prev)}
        field_name = next(f"Signature{i}" for i in range(1, 10_000)
                          if f"Signature{i}" not in existing)
        key_bytes = (cert.public_key.bit_size + 7) // 8
        is_ec = cert.public_key.algorithm == "ec"
        signer = signers.ExternalSigner(
            signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs(certs),
            signature_value=2 * key_bytes + 8 if is_ec else key_bytes)
        meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256",
                                            subfilter=fields.SigSeedSubFilter.PADES,
                                            reason=reason)
        # B-T adds an unsigned timestamp at post-sign time: reserve room for it now.
        reserve = 16_384 if level.timestamped else 8_192
        prepared, _tbs, output = await signers.PdfSigner(meta, signer).async_digest_doc_for_signing(
            writer, bytes_reserved=reserve)
        signed_attrs = await signer.signed_attrs(
            prepared.document_digest, "sha256",
            attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)),
            use_pades=True)
        tbs = signed_attrs.dump()
        output.seek(0)
        state_id = secrets.token_urlsafe(32)
        self._state.put(_PREFIX + state_id, json.dumps({
            "pdf": base64.b64encode(output.read()).decode(),
            "digest": prepared.document_digest.hex(),
            "start": prepared.reserved_region_start,
            "end": prepared.reserved_region_end,
            "tbs": base64.b64encode(tbs).decode(),
            "level": level.value,
        }).encode(), ttl=self.ttl_seconds)
        return PreSigned(
            token=f"{state_id}.{self._mac(state_id, cert, tbs)}",
            data_to_sign=tbs, digest_algorithm="sha256",
            signature_algorithm="ecdsa-with-SHA256" if is_ec else "sha256WithRSAEncryption",
            expires_in=self.ttl_seconds)

    def postsign_pdf(self, token: str, certificate: bytes, signature_value: bytes) -> bytes:
        certs = _load_certificates(certificate)
        cert = certs[0]
        state_id, sep, mac = token.partition(".")
        if not sep or not state_id:
            raise InvalidInput("malformed three-phase token", field="token")
        raw = self._state.take(_PREFIX + state_id)
        if raw is None:
            raise PresignExpired("no pending pre-signed document for this token")
        state = json.loads(raw)
        tbs = base64.b64decode(state["tbs"])
        if not hmac.compare_digest(mac, self._mac(state_id, cert, tbs)):
            raise PresignBindingMismatch("the token was issued for another certificate")
        _verify(cert, tbs, signature_value)
        return run_sync(self._apostsign(state, certs, tbs, signature_value))

    async def _apostsign(self, state: dict[str, object], certs: list[asn1_x509.Certificate],
                         tbs: bytes, signature_value: bytes) -> bytes:
        signer = signers.ExternalSigner(
            signing_cert=certs[0], cert_registry=SimpleCertificateStore.from_certs(certs),
            signature_value=signature_value)
        level = Level.parse(str(state["level"]))
        sig_cms = await signer.async_sign_prescribed_attributes(
            "sha256", signed_attrs=cms.CMSAttributes.load(tbs),
            timestamper=self._timestamper() if level.timestamped else None)
        output = io.BytesIO(base64.b64decode(str(state["pdf"])))
        prepared = PreparedByteRangeDigest(
            document_digest=bytes.fromhex(str(state["digest"])),
            reserved_region_start=int(str(state["start"])),
            reserved_region_end=int(str(state["end"])))
        await PdfTBSDocument.async_finish_signing(output, prepared, sig_cms)
        return output.getvalue()


def _verify(cert: asn1_x509.Certificate, tbs: bytes, signature: bytes) -> None:
    public = x509.load_der_x509_certificate(cert.dump()).public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, tbs, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, tbs, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignatureValue("only RSA and EC signer keys are supported")
    except InvalidSignature:
        raise InvalidSignatureValue("the signature value does not match the data to sign "
                                    "and the certificate") from None
