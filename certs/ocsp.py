"""An RFC 6960 OCSP responder for the deployment's own CAs.

Requests are parsed with ``cryptography``; a body that is not a DER OCSP request
is a client error (``OcspMalformedRequest``, answered as problem+json), while a
well-formed request for a CA this responder does not serve gets the protocol's own
``unauthorized`` answer. Status comes from the database on every request, so a
revocation is visible at once.

Certificates signed by the issuing CA are answered by the delegated responder
certificate (EKU OCSPSigning, id-pkix-ocsp-nocheck); those signed by the root
(the issuing CA itself) are answered by the root.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp
from sqlalchemy.orm import Session

from certs import revocation
from infra.errors import ElocalError, PayloadTooLarge

if TYPE_CHECKING:
    from certs.store import Pki

#: Largest request accepted (a request for one certificate is about 100 bytes). Each
#: request names one certificate; a multi-certificate request gets ``malformedRequest``.
MAX_REQUEST_BYTES = 16 * 1024
#: RFC 8954: nonces longer than this are refused.
MAX_NONCE_BYTES = 32
#: How long a response may be relied on (its nextUpdate).
RESPONSE_VALIDITY = timedelta(minutes=10)

_HASH_NAMES = {"sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384",
               "sha512": "sha512"}


class OcspMalformedRequest(ElocalError):
    code = "ocsp_malformed_request"
    status = 400
    title = "Not a DER-encoded OCSP request"


@dataclass(frozen=True)
class _Authority:
    name: str
    ca: x509.Certificate
    key_id: str
    signer_cert: x509.Certificate
    signer_key: CertificateIssuerPrivateKeyTypes
    #: Certificates sent with the response (the delegated responder's certificate).
    certs: tuple[x509.Certificate, ...]


class OcspResponder:
    def __init__(self, pki: Pki, *, validity: timedelta = RESPONSE_VALIDITY) -> None:
        self.pki = pki
        self.validity = validity
        self._lock = threading.Lock()
        self._hashes: dict[tuple[int, str], tuple[bytes, bytes]] = {}

    def respond(self, session: Session, body: bytes, *, now: datetime | None = None) -> bytes:
        """DER OCSP response for a DER OCSP request."""
        if len(body) > MAX_REQUEST_BYTES:
            raise PayloadTooLarge(f"OCSP requests are limited to {MAX_REQUEST_BYTES} bytes",
                                  limit=MAX_REQUEST_BYTES)
        try:
            request = parse_request(body)
        except _SingleRequestOnly:
            # Well-formed DER the client may legitimately send: answer in the protocol.
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        nonce = _nonce(request)
        if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_BYTES:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        authority = self._authority_for(request)
        if authority is None:
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

        st = revocation.status(session, authority.key_id, request.serial_number)
        this_update = (now or datetime.now(UTC)).replace(microsecond=0)
        cert_status = {
            "good": ocsp.OCSPCertStatus.GOOD,
            "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN,
        }[st.status]
        reason = st.reason if st.reason is not x509.ReasonFlags.unspecified else None
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=cert_status,
                this_update=this_update,
                next_update=this_update + self.validity,
                revocation_time=st.revoked_at if st.status == "revoked" else None,
                revocation_reason=reason if st.status == "revoked" else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, authority.signer_cert)
        )
        if authority.certs:
            builder = builder.certificates(list(authority.certs))
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(authority.signer_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def _authority_for(self, request: ocsp.OCSPRequest) -> _Authority | None:
        algo = request.hash_algorithm.name
        if algo not in _HASH_NAMES:
            return None
        for name in self.pki.CA_NAMES:
            ca = self.pki.ca(name).certificate
            name_hash, key_hash = self._ca_hashes(ca, algo)
            if (name_hash == request.issuer_name_hash
                    and key_hash == request.issuer_key_hash):
                return self._authority(name, ca)
        return None

    def _authority(self, name: str, ca: x509.Certificate) -> _Authority:
        if name == "issuing":
            responder = self.pki.ocsp
            return _Authority(name, ca, revocation.key_id(ca), responder.certificate,
                              responder.key, (responder.certificate,))  # type: ignore[arg-type]
        material = self.pki.ca(name)
        return _Authority(name, ca, revocation.key_id(ca), material.certificate,
                          material.key, ())  # type: ignore[arg-type]

    def _ca_hashes(self, ca: x509.Certificate, algo: str) -> tuple[bytes, bytes]:
        # Keyed by object identity: certs.keys hands out one object per file version.
        cache_key = (id(ca), algo)
        with self._lock:
            hit = self._hashes.get(cache_key)
        if hit is not None:
            return hit
        spki = asn1_keys.PublicKeyInfo.load(
            ca.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))
        key_bits = bytes(spki["public_key"].contents[1:])  # drop the unused-bits octet
        value = (hashlib.new(algo, ca.subject.public_bytes()).digest(),
                 hashlib.new(algo, key_bits).digest())
        with self._lock:
            if len(self._hashes) > 64:
                self._hashes.clear()
            self._hashes[cache_key] = value
        return value


def parse_request(body: bytes) -> ocsp.OCSPRequest:
    """Parse a DER OCSP request, turning any decoding failure into ``OcspMalformedRequest``."""
    if not body:
        raise OcspMalformedRequest("the OCSP request is empty")
    try:
        request = ocsp.load_der_ocsp_request(body)
        request.extensions  # noqa: B018 (decode now: a bad extension is the client's mistake)
        return request
    except NotImplementedError as exc:
        raise _SingleRequestOnly(str(exc)) from exc
    except ValueError as exc:
        raise OcspMalformedRequest("the body is not a DER-encoded OCSP request") from exc


class _SingleRequestOnly(Exception):
    """A request for several certificates: this responder answers one per request."""


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        ext = request.extensions.get_extension_for_class(x509.OCSPNonce)
    except x509.ExtensionNotFound:
        return None
    return ext.value.nonce


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER)
