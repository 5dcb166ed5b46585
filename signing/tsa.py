"""eLocal's own RFC 3161 time-stamping authority.

It answers DER ``TimeStampReq`` bodies with ``TimeStampResp`` tokens signed by the
TSA certificate of the PKI (extended key usage ``timeStamping``). Serial numbers
come from a database counter, so they are unique and increase across worker
processes and restarts; the request nonce is echoed. Requests this TSA cannot
honour get a ``rejection`` with the RFC 3161 failure bit, never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute

from certs.keys import KeyMaterial
from signing.keys import to_asn1

log = logging.getLogger("elocal.signing.tsa")

#: Default TSA policy: an OID under the ``2.25`` (UUID) arc, which needs no registration.
DEFAULT_POLICY_OID = "2.25.201926011356730463917366473802474373817"

#: Digest algorithms accepted in a message imprint, with their output lengths.
ALLOWED_IMPRINTS = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_512": 64}

#: The largest request body accepted (a request is a digest and a few fields).
MAX_REQUEST_BYTES = 16 * 1024


class TsaRejection(Exception):
    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


@dataclass
class TimeStampAuthority:
    material: KeyMaterial
    next_serial: Callable[[], int]
    policy_oid: str = DEFAULT_POLICY_OID
    #: The clock's claimed accuracy, in seconds, written into every token.
    accuracy_seconds: int = 1
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @cached_property
    def _cert(self) -> asn1_x509.Certificate:
        return to_asn1(self.material.certificate)

    @cached_property
    def _chain(self) -> list[asn1_x509.Certificate]:
        return [to_asn1(c) for c in self.material.chain if c.subject != c.issuer]

    @cached_property
    def _ess_cert_id(self) -> tsp.SigningCertificateV2:
        return tsp.SigningCertificateV2.load(as_signing_certificate_v2(self._cert).dump())

    def _template(self, include_certs: bool) -> bytes:
        """A DER SignedData shell, parsed per token so that the certificates are not
        re-encoded every time (asn1crypto re-serialises objects it did not parse)."""
        cache = self.__dict__.setdefault("_templates", {})
        if include_certs not in cache:
            shell: dict[str, Any] = {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {"content_type": "tst_info"},
                "signer_infos": [],
            }
            if include_certs:
                shell["certificates"] = [self._cert, *self._chain]
            cache[include_certs] = cms.SignedData(shell).dump()
        return cache[include_certs]  # type: ignore[no-any-return]

    def respond(self, body: bytes) -> bytes:
        """Answer one DER request with a DER response (granted or rejection)."""
        try:
            req = self._parse(body)
            token = self._issue(req)
        except TsaRejection as rej:
            return _rejection(rej.fail_info, rej.text)
        return tsp.TimeStampResp({
            "status": tsp.PKIStatusInfo({"status": "granted"}),
            "time_stamp_token": token,
        }).dump()

    def _parse(self, body: bytes) -> tsp.TimeStampReq:
        if len(body) > MAX_REQUEST_BYTES:
            raise TsaRejection("bad_request", "request too large")
        try:
            req = tsp.TimeStampReq.load(body, strict=True)
            req.native  # noqa: B018 - force a full parse, so malformed DER fails here
        except (ValueError, TypeError, OverflowError) as exc:
            raise TsaRejection("bad_data_format", f"malformed request: {exc}") from None
        if req["version"].native != "v1":
            raise TsaRejection("bad_request", "unsupported request version")
        imprint = req["message_imprint"]
        alg = imprint["hash_algorithm"]["algorithm"].native
        if alg not in ALLOWED_IMPRINTS:
            raise TsaRejection("bad_alg", f"digest algorithm {alg} is not accepted")
        if len(imprint["hashed_message"].native) != ALLOWED_IMPRINTS[alg]:
            raise TsaRejection("bad_data_format", "digest length does not match its algorithm")
        policy = req["req_policy"].native
        if policy is not None and policy != self.policy_oid:
            raise TsaRejection("unaccepted_policy", f"this TSA issues under {self.policy_oid}")
        if req["extensions"].native:
            raise TsaRejection("unaccepted_extensions", "request extensions are not supported")
        return req

    def _issue(self, req: tsp.TimeStampReq) -> cms.ContentInfo:
        gen_time = self.clock().astimezone(UTC)
        info: dict[str, Any] = {
            "version": "v1",
            "policy": self.policy_oid,
            "message_imprint": req["message_imprint"],
            "serial_number": self.next_serial(),
            "gen_time": core.GeneralizedTime(gen_time),
            "accuracy": tsp.Accuracy({"seconds": self.accuracy_seconds}),
            "ordering": False,
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self._cert.subject),
        }
        if req["nonce"].native is not None:
            info["nonce"] = req["nonce"]
        tst_info = tsp.TSTInfo(info).dump()
        return self._sign(tst_info, gen_time, include_certs=bool(req["cert_req"].native))

    def _sign(self, content: bytes, when: datetime, *, include_certs: bool) -> cms.ContentInfo:
        h = hashes.Hash(hashes.SHA256())
        h.update(content)
        signed_attrs = cms.CMSAttributes([
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
            simple_cms_attribute("message_digest", h.finalize()),
            simple_cms_attribute("signing_certificate_v2", self._ess_cert_id),
        ])
        key = self.material.key
        tbs = signed_attrs.dump()
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
            sig_alg = "sha256_ecdsa"
        elif isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
            sig_alg = "rsassa_pkcs1v15"
        else:  # pragma: no cover - the PKI issues RSA or EC TSA keys
            raise TypeError("unsupported TSA key type")
        digest_alg = algos.DigestAlgorithm({"algorithm": "sha256"})
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
                "issuer": self._cert.issuer, "serial_number": self._cert.serial_number})}),
            "digest_algorithm": digest_alg,
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_alg}),
            "signature": signature,
        })
        signed_data = cms.SignedData.load(self._template(include_certs))
        signed_data["encap_content_info"] = {
            "content_type": "tst_info",
            "content": cms.ParsableOctetString(content),
        }
        signed_data["signer_infos"] = [signer_info]
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


def _rejection(fail_info: str, text: str) -> bytes:
    log.info("TSA request rejected: %s (%s)", text, fail_info)
    return TimeStampRespStatus({
        "status": tsp.PKIStatusInfo({
            "status": "rejection",
            "status_string": [text],
            "fail_info": tsp.PKIFailureInfo({fail_info}),
        }),
    }).dump()


class TimeStampRespStatus(core.Sequence):
    """``TimeStampResp`` with the token optional, as RFC 3161 has it (asn1crypto requires it)."""

    _fields = [("status", tsp.PKIStatusInfo),
               ("time_stamp_token", cms.ContentInfo, {"optional": True})]
