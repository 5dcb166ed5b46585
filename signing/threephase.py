"""Three-phase PAdES signing: the signer's private key never leaves their device.

1. ``presign_pdf``: the server prepares the signature field and the CMS signed
   attributes, keeps the prepared document in the state store (short-lived,
   single-use) and returns the DER bytes the client must sign, with an opaque token.
2. The client signs those bytes (PKCS#1 v1.5 or ECDSA with SHA-256) on its device.
3. ``postsign_pdf``: the server checks the token's HMAC, which binds the prepared state
   to its owner (an opaque ``owner`` string: who asked, in which session), to the
   signer's certificate and to the exact bytes to sign; then checks the signature
   value against the certificate and embeds it.

Who the owner is, and whether the certificate is theirs, is the caller's decision
(the API binds both to the login session). This module bounds what one owner can
hold: ``max_outstanding`` pre-signed documents at a time, each for ``ttl_seconds``,
each at most ``max_document_bytes``.

This follows the @firma / AutoFirma model; pyHanko's interrupted signing does the
PDF work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import math
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

from infra.errors import ElocalError, Forbidden, InvalidInput
from infra.state import StateStore
from signing import pades
from signing.errors import DocumentTooLarge, UnsupportedOption
from signing.levels import Level
from signing.limits import SigningLimits
from signing.timestamps import Rfc3161TimeStamper, run_sync

_PREFIX = "signing:3p:"
_SLOT_PREFIX = "signing:3p-slot:"
#: Largest PDF accepted for three-phase signing (the whole prepared file sits in the
#: state store until the device answers, so this is deliberately below the sealing limit).
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
#: How long the device has to sign (seconds).
PRESIGN_TTL_SECONDS = 300
#: Pre-signed documents one owner may have waiting at once.
MAX_OUTSTANDING = 5


class PresignExpired(InvalidInput):
    code = "presign_expired"
    status = 410
    title = "The pre-signed document has expired or was already completed"


class PresignBindingMismatch(Forbidden):
    code = "presign_binding_mismatch"
    title = "The token does not belong to this certificate and document"


class TooManyPresigns(ElocalError):
    code = "too_many_presigns"
    status = 429
    title = "Too many documents are waiting for this signer's device"


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
                 timestamper: Callable[[], Rfc3161TimeStamper],
                 ttl_seconds: int = PRESIGN_TTL_SECONDS,
                 max_document_bytes: int = MAX_DOCUMENT_BYTES,
                 max_outstanding: int = MAX_OUTSTANDING) -> None:
        self._state = state
        self._secret = secret
        self._limits = limits
        self._timestamper = timestamper
        self.ttl_seconds = ttl_seconds
        self.max_document_bytes = min(max_document_bytes, limits.max_document_bytes)
        self.max_outstanding = max_outstanding

    def _mac(self, state_id: str, owner: str, cert: asn1_x509.Certificate, tbs: bytes) -> str:
        msg = b"|".join([state_id.encode(), hashlib.sha256(owner.encode()).digest(),
                         hashlib.sha256(cert.dump()).digest(), hashlib.sha256(tbs).digest()])
        return base64.urlsafe_b64encode(hmac.new(self._secret, msg, "sha256").digest()
                                        ).decode().rstrip("=")

    def _slot_keys(self, owner: str) -> list[str]:
        who = hashlib.sha256(owner.split("|", 1)[0].encode()).hexdigest()
        return [f"{_SLOT_PREFIX}{who}:{i}" for i in range(self.max_outstanding)]

    def _claim_slot(self, owner: str, state_id: str) -> str:
        """One of the owner's ``max_outstanding`` slots, atomically (``add``), or 429."""
        keys = self._slot_keys(owner)
        for key in keys:
            if self._state.add(key, state_id.encode(), self.ttl_seconds):
                return key
        waits = [t for t in (self._state.ttl(k) for k in keys) if t is not None]
        raise TooManyPresigns(
            f"{self.max_outstanding} documents are already waiting for a signature; complete "
            "or abandon one first", limit=self.max_outstanding,
            retry_after=max(1, math.ceil(min(waits, default=1))))

    def check_size(self, size: int) -> None:
        if size > self.max_document_bytes:
            raise DocumentTooLarge(f"three-phase documents are limited to "
                                   f"{self.max_document_bytes} bytes",
                                   limit=self.max_document_bytes)

    def presign_pdf(self, pdf: bytes, certificate: bytes, level: str | Level = Level.B_B,
                    *, owner: str, reason: str | None = None) -> PreSigned:
        """Prepare ``pdf`` for ``certificate``'s key; only ``owner`` can complete it.

        ``owner`` starts with a stable identifier of the signer (the outstanding limit
        counts per that prefix, up to the first ``|``), followed by anything else the
        completion must match (the API adds a digest of the session id).
        """
        lvl = Level.parse(level)
        if lvl.long_term:
            raise UnsupportedOption("three-phase signing produces B-B or B-T; extend the "
                                    "result for the long-term levels", level=lvl.value)
        self.check_size(len(pdf))
        certs = _load_certificates(certificate)
        state_id = secrets.token_urlsafe(32)
        slot = self._claim_slot(owner, state_id)
        try:
            return run_sync(self._apresign(pdf, certs, lvl, reason, owner, state_id, slot))
        except BaseException:
            self._state.delete(slot)
            raise

    async def _apresign(self, pdf: bytes, certs: list[asn1_x509.Certificate], level: Level,
                        reason: str | None, owner: str, state_id: str, slot: str
                        ) -> PreSigned:
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
        # Room for the CMS: the certificates sent, the signature value and the signed
        # attributes with slack; B-T adds an unsigned timestamp (with the TSA's own
        # certificates) at post-sign time, so its room is reserved now.
        reserve = sum(len(c.dump()) for c in certs) + 2 * key_bytes + 6_144
        if level.timestamped:
            reserve += 12_288
        reserve = -(-reserve // 1024) * 1024
        prepared, _tbs, output = await signers.PdfSigner(meta, signer).async_digest_doc_for_signing(
            writer, bytes_reserved=reserve)
        signed_attrs = await signer.signed_attrs(
            prepared.document_digest, "sha256",
            attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)),
            use_pades=True)
        tbs = signed_attrs.dump()
        output.seek(0)
        self._state.put(_PREFIX + state_id, json.dumps({
            "pdf": base64.b64encode(output.read()).decode(),
            "digest": prepared.document_digest.hex(),
            "start": prepared.reserved_region_start,
            "end": prepared.reserved_region_end,
            "tbs": base64.b64encode(tbs).decode(),
            "level": level.value,
            "slot": slot,
        }).encode(), ttl=self.ttl_seconds)
        return PreSigned(
            token=f"{state_id}.{self._mac(state_id, owner, cert, tbs)}",
            data_to_sign=tbs, digest_algorithm="sha256",
            signature_algorithm="ecdsa-with-SHA256" if is_ec else "sha256WithRSAEncryption",
            expires_in=self.ttl_seconds)

    def postsign_pdf(self, token: str, certificate: bytes, signature_value: bytes, *,
                     owner: str) -> bytes:
        """Embed the device's signature; the token works once, for its owner and certificate.

        The binding is checked before the state is consumed, so someone else holding the
        token cannot spend it; a correctly bound completion consumes it whatever follows.
        """
        certs = _load_certificates(certificate)
        cert = certs[0]
        state_id, sep, mac = token.partition(".")
        if not sep or not state_id or len(state_id) > 64:
            raise InvalidInput("malformed three-phase token", field="token")
        key = _PREFIX + state_id
        raw = self._state.get(key)
        if raw is None:
            raise PresignExpired("no pending pre-signed document for this token")
        tbs = base64.b64decode(json.loads(raw)["tbs"])
        if not hmac.compare_digest(mac, self._mac(state_id, owner, cert, tbs)):
            raise PresignBindingMismatch("the token was issued to another signer, session or "
                                         "certificate")
        raw = self._state.take(key)
        if raw is None:
            raise PresignExpired("the pre-signed document was completed meanwhile")
        state = json.loads(raw)
        self._state.delete(str(state["slot"]))
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
