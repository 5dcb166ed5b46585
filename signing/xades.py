"""XAdES sealing on top of signxml: B-B/EPES, B-T and B-LT.

signxml produces the XML-DSig core and the XAdES signed properties (B-B, and
EPES with a policy). The unsigned properties of the higher levels are added here:

- B-T: ``SignatureTimeStamp`` over the exclusive-canonicalised ``ds:SignatureValue``;
- B-LT: ``CertificateValues`` and ``RevocationValues`` with every certificate, OCSP
  response and CRL needed to validate the seal and the timestamp later.

Unsigned properties are outside the signed data, so adding them never disturbs
the signature itself.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from lxml import etree
from pyhanko_certvalidator import ValidationContext
from signxml import DigestAlgorithm, SignatureMethod
from signxml.algorithms import CanonicalizationMethod, SignatureConstructionMethod
from signxml.xades import XAdESDataObjectFormat, XAdESSignaturePolicy, XAdESSigner

from signing import revinfo
from signing.errors import TsaUnavailable, UnsupportedOption
from signing.keys import SealKey
from signing.levels import Level, Packaging
from signing.limits import SigningLimits
from signing.policy import AGE_1_9, SignaturePolicy
from signing.timestamps import Rfc3161TimeStamper, run_sync
from signing.xmlparse import parse_xml

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N = CanonicalizationMethod.CANONICAL_XML_1_0

_DIGEST_URIS = {"sha1": DigestAlgorithm.SHA1, "sha256": DigestAlgorithm.SHA256,
                "sha512": DigestAlgorithm.SHA512}


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


class ElocalXAdESSigner(XAdESSigner):
    """signxml's XAdES signer, with the policy element as the AGE policy spells it."""

    def __init__(self, policy: SignaturePolicy | None, **kwargs: Any) -> None:
        self._policy = policy
        xpolicy = None
        if policy is not None:
            xpolicy = XAdESSignaturePolicy(
                Identifier=policy.urn, Description=policy.description,
                DigestMethod=_DIGEST_URIS[policy.digest_algorithm], DigestValue=policy.digest_b64)
        super().__init__(signature_policy=xpolicy, **kwargs)

    def add_signature_policy_identifier(self, signed_signature_properties: Any, sig_root: Any,
                                        signing_settings: Any) -> None:
        super().add_signature_policy_identifier(signed_signature_properties, sig_root,
                                                signing_settings)
        if self._policy is None:
            return
        spi = signed_signature_properties.find(_q(XADES, "SignaturePolicyIdentifier"))
        spid = spi.find(_q(XADES, "SignaturePolicyId"))
        spid.find(f"{_q(XADES, 'SigPolicyId')}/{_q(XADES, 'Identifier')}").set(
            "Qualifier", "OIDAsURN")
        qualifiers = etree.SubElement(spid, _q(XADES, "SigPolicyQualifiers"))
        qualifier = etree.SubElement(qualifiers, _q(XADES, "SigPolicyQualifier"))
        etree.SubElement(qualifier, _q(XADES, "SPURI")).text = self._policy.spuri


def seal(
    data: bytes,
    key: SealKey,
    level: Level,
    packaging: Packaging,
    *,
    limits: SigningLimits,
    timestamper: Rfc3161TimeStamper | None,
    validation_context: Callable[[], ValidationContext],
    age_policy: bool = False,
    description: str = "Documento sellado electrónicamente",
    mime_type: str = "text/xml",
    document_uri: str = "document.xml",
) -> bytes:
    """Seal XML ``data``; returns the signed document (or, for ``detached``, the signature)."""
    if level is Level.B_LTA:
        raise UnsupportedOption("XAdES is sealed up to B-LT; archive timestamps are PAdES-only "
                                "in this service", level=level.value)
    if level.timestamped and timestamper is None:
        raise TsaUnavailable("no TSA is configured for a timestamped level")
    tree = parse_xml(data, limits.xml)
    root = tree.getroot()

    method = {
        Packaging.ENVELOPED: SignatureConstructionMethod.enveloped,
        Packaging.ENVELOPING: SignatureConstructionMethod.enveloping,
        Packaging.DETACHED: SignatureConstructionMethod.detached,
        Packaging.INTERNALLY_DETACHED: SignatureConstructionMethod.detached,
    }[packaging]
    signer = ElocalXAdESSigner(
        AGE_1_9 if age_policy else None,
        data_object_format=XAdESDataObjectFormat(Description=description, MimeType=mime_type),
        method=method,
        signature_algorithm=(SignatureMethod.ECDSA_SHA256 if key.is_ec
                             else SignatureMethod.RSA_SHA256),
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=C14N,
    )
    chain = [key.certificate, *key.chain]
    kwargs: dict[str, Any] = {"key": key.key, "cert": chain, "always_add_key_value": False}

    if packaging is Packaging.INTERNALLY_DETACHED:
        content_id = f"Content-{uuid.uuid4()}"
        wrapper = etree.Element("Document")
        content = etree.SubElement(wrapper, "Content", Id=content_id, MimeType=mime_type)
        content.append(root)
        signature = signer.sign(wrapper, reference_uri=f"#{content_id}", **kwargs)
        wrapper.append(signature)
        doc_root = wrapper
    elif packaging is Packaging.DETACHED:
        signature = signer.sign(root, reference_uri=document_uri, **kwargs)
        doc_root = signature
    else:
        signed = signer.sign(root, **kwargs)
        doc_root = signed
        signature = (signed if packaging is Packaging.ENVELOPING
                     else signed.find(_q(DS, "Signature")))

    if level.timestamped:
        assert timestamper is not None
        add_signature_timestamp(signature, timestamper)
    if level.long_term:
        add_long_term_values(signature, key, validation_context)
    return etree.tostring(doc_root, xml_declaration=True, encoding="UTF-8")


def _unsigned_signature_properties(signature: etree._Element) -> etree._Element:
    qp = signature.find(f"{_q(DS, 'Object')}/{_q(XADES, 'QualifyingProperties')}")
    if qp is None:
        raise UnsupportedOption("the signature has no XAdES QualifyingProperties")
    up = qp.find(_q(XADES, "UnsignedProperties"))
    if up is None:
        up = etree.SubElement(qp, _q(XADES, "UnsignedProperties"))
    usp = up.find(_q(XADES, "UnsignedSignatureProperties"))
    if usp is None:
        usp = etree.SubElement(up, _q(XADES, "UnsignedSignatureProperties"))
    return usp


def signature_value_c14n(signature: etree._Element) -> bytes:
    """The bytes a XAdES ``SignatureTimeStamp`` covers (exclusive c14n of SignatureValue)."""
    value = signature.find(_q(DS, "SignatureValue"))
    return etree.tostring(value, method="c14n", exclusive=True, with_comments=False)


def add_signature_timestamp(signature: etree._Element, timestamper: Rfc3161TimeStamper) -> bytes:
    digest = hashlib.sha256(signature_value_c14n(signature)).digest()
    token = timestamper.timestamp_digest(digest, "sha256")
    der = token.dump()
    usp = _unsigned_signature_properties(signature)
    sts = etree.SubElement(usp, _q(XADES, "SignatureTimeStamp"), Id=f"TS-{uuid.uuid4()}")
    etree.SubElement(sts, _q(DS, "CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(sts, _q(XADES, "EncapsulatedTimeStamp")).text = base64.b64encode(der).decode()
    return der


def embedded_timestamps(signature: etree._Element) -> list[cms.ContentInfo]:
    usp = _unsigned_signature_properties(signature)
    return [cms.ContentInfo.load(base64.b64decode(e.text or ""))
            for e in usp.iter(_q(XADES, "EncapsulatedTimeStamp"))]


def add_long_term_values(signature: etree._Element, key: SealKey,
                         validation_context: Callable[[], ValidationContext]) -> None:
    tokens = embedded_timestamps(signature)
    if not tokens:
        raise UnsupportedOption("B-LT needs a signature timestamp first")
    targets: list[tuple[asn1_x509.Certificate, list[asn1_x509.Certificate], set[str]]] = [
        (key.asn1_certificate, list(key.asn1_chain), set()),
    ]
    for token in tokens:
        sd = token["content"]
        certs = [c.chosen for c in sd["certificates"]]
        sid = sd["signer_infos"][0]["sid"].chosen
        leaf = next(c for c in certs if c.serial_number == sid["serial_number"].native
                    and c.issuer == sid["issuer"])
        targets.append((leaf, [c for c in certs if c is not leaf], {"time_stamping"}))
    vc = validation_context()
    material = run_sync(revinfo.collect(vc, targets))
    usp = _unsigned_signature_properties(signature)
    cv = etree.SubElement(usp, _q(XADES, "CertificateValues"))
    for c in material.certificates:
        etree.SubElement(cv, _q(XADES, "EncapsulatedX509Certificate")).text = \
            base64.b64encode(c.dump()).decode()
    rv = etree.SubElement(usp, _q(XADES, "RevocationValues"))
    if material.crls:
        crls = etree.SubElement(rv, _q(XADES, "CRLValues"))
        for crl in material.crls:
            etree.SubElement(crls, _q(XADES, "EncapsulatedCRLValue")).text = \
                base64.b64encode(crl).decode()
    if material.ocsp_responses:
        ocsps = etree.SubElement(rv, _q(XADES, "OCSPValues"))
        for resp in material.ocsp_responses:
            etree.SubElement(ocsps, _q(XADES, "EncapsulatedOCSPValue")).text = \
                base64.b64encode(resp).decode()
