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
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from lxml import etree
from pyhanko_certvalidator import ValidationContext
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.algorithms import CanonicalizationMethod, SignatureConstructionMethod
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature
from signxml.xades import XAdESDataObjectFormat, XAdESSignaturePolicy, XAdESSigner

from signing import revinfo
from signing.errors import (
    ExistingSignatureWouldBreak,
    SignatureNotIntact,
    SigningError,
    TsaUnavailable,
    UnsupportedOption,
)
from signing.keys import SealKey
from signing.levels import Level, Packaging
from signing.limits import SigningLimits
from signing.policy import AGE_1_9, SignaturePolicy
from signing.timestamps import Rfc3161TimeStamper, run_sync
from signing.xmlparse import parse_xml, remove_keeping_tail

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N = CanonicalizationMethod.CANONICAL_XML_1_0

_DIGEST_URIS = {"sha1": DigestAlgorithm.SHA1, "sha256": DigestAlgorithm.SHA256,
                "sha512": DigestAlgorithm.SHA512}


XPATH_1 = "http://www.w3.org/TR/1999/REC-xpath-19991116"
NOT_SIGNATURE_XPATH = "not(ancestor-or-self::ds:Signature)"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def drop_signatures(node: etree._Element) -> None:
    """Remove every ``ds:Signature`` under ``node`` as an XPath node-set filter would."""
    for sig in list(node.iter(_q(DS, "Signature"))):
        remove_keeping_tail(sig)


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

    def _build_transforms_for_reference(self, *, transforms_node: Any, reference: Any,
                                        exclude_c14n_transform_element: bool = True) -> None:
        """Enveloped seals also leave every other signature out of what they cover.

        With the enveloped-signature transform alone, a seal covers the document minus
        itself, so adding any later signature (a co-seal, a citizen's signature) breaks
        it. The XPath filter ``not(ancestor-or-self::ds:Signature)``, as Autofirma and
        @firma write it, keeps the seal valid next to signatures added afterwards.
        """
        super()._build_transforms_for_reference(
            transforms_node=transforms_node, reference=reference,
            exclude_c14n_transform_element=True)
        if self.construction_method == SignatureConstructionMethod.enveloped:
            xform = etree.SubElement(transforms_node, _q(DS, "Transform"), Algorithm=XPATH_1)
            etree.SubElement(xform, _q(DS, "XPath")).text = NOT_SIGNATURE_XPATH
        if not exclude_c14n_transform_element:
            etree.SubElement(transforms_node, _q(DS, "Transform"),
                             Algorithm=reference.c14n_method.value)

    def _unpack(self, data: Any, references: Any) -> Any:
        sig_root, doc_root, c14n_inputs, refs = super()._unpack(data, references)
        if self.construction_method == SignatureConstructionMethod.enveloped:
            # What the digest covers must be what the XPath filter selects.
            for node in c14n_inputs:
                drop_signatures(node)
        return sig_root, doc_root, c14n_inputs, refs

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
    if packaging is not Packaging.DETACHED:
        _refuse_breaking_existing_signatures(root, packaging)

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
    elif packaging is Packaging.ENVELOPING:
        signature = signer.sign(root, **kwargs)
        doc_root = signature
    else:
        # A counter-seal's input already carries signatures: the unsigned properties must
        # go onto the one signxml has just appended, never onto an older one.
        before = len(root.findall(_q(DS, "Signature")))
        doc_root = signer.sign(root, **kwargs)
        signature = _new_signature(doc_root, before)

    if level.timestamped:
        assert timestamper is not None
        add_signature_timestamp(signature, timestamper)
    if level.long_term:
        add_long_term_values(signature, key, validation_context)
    return etree.tostring(doc_root, xml_declaration=True, encoding="UTF-8")


#: XPath expressions (XPath 1.0 and Filter 2.0 "subtract") that leave every signature out
#: of what a reference covers, so signatures added later do not disturb it.
_SIGNATURE_EXCLUDING_XPATHS = {
    "not(ancestor-or-self::ds:Signature)",
    "/descendant::*[name()='ds:Signature']",
    "/descendant::ds:Signature",
}


def _refuse_breaking_existing_signatures(root: etree._Element, packaging: Packaging) -> None:
    """Refuse a seal that would silently invalidate a signature the document already has.

    An enveloped reference (``URI=""``) covers the whole document minus its own
    signature. Appending another enveloped signature changes that content unless the
    older reference also excludes every other signature; enveloping or internally
    detached packaging moves the root, which no whole-document reference survives.
    A detached seal never touches the document.
    """
    if packaging is Packaging.ENVELOPED and root.tag == _q(DS, "Signature"):
        raise ExistingSignatureWouldBreak(
            "the document is itself a signature, which cannot hold an enveloped one; seal it "
            "with detached packaging", packaging=packaging.value)
    for sig in root.iter(_q(DS, "Signature")):
        for ref in sig.iterfind(f"{_q(DS, 'SignedInfo')}/{_q(DS, 'Reference')}"):
            if not _targets_root(ref.get("URI"), root):
                continue
            if packaging is Packaging.ENVELOPED and _excludes_signatures(ref):
                continue
            raise ExistingSignatureWouldBreak(
                "the document already carries a signature over the whole document that a "
                f"{packaging.value} seal would invalidate; seal it with detached packaging",
                packaging=packaging.value)


def _targets_root(uri: str | None, root: etree._Element) -> bool:
    if uri is None:
        return False
    if uri in ("", "#xpointer(/)"):
        return True
    if not uri.startswith("#"):
        return False
    ident = uri[1:]
    return any(root.get(attr) == ident for attr in ("Id", "ID", "id"))


def _excludes_signatures(ref: etree._Element) -> bool:
    for xpath in ref.iter(_q(DS, "XPath"), "{http://www.w3.org/2002/06/xmldsig-filter2}XPath"):
        if " ".join((xpath.text or "").split()) in _SIGNATURE_EXCLUDING_XPATHS:
            return True
    return False


def _with_ocsp_responders(certs: list[asn1_x509.Certificate],
                          responses: list[bytes]) -> list[asn1_x509.Certificate]:
    """The path certificates plus each OCSP response's delegated responder certificate.

    An offline validator must check the responses' signatures too; a delegated
    responder's certificate travels inside the response, but is listed here as well so
    that CertificateValues alone suffices (EN 319 132-1, 5.5.1).
    """
    seen = {c.dump() for c in certs}
    result = list(certs)
    for der in responses:
        try:
            basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
            extra = [c for c in basic["certs"] or ()]
        except (ValueError, KeyError, TypeError):
            continue
        for c in extra:
            if c.dump() not in seen:
                seen.add(c.dump())
                result.append(c)
    return result


def _new_signature(doc_root: etree._Element, before: int) -> etree._Element:
    """The ``ds:Signature`` signxml appended to (a copy of) the root, after ``before`` others.

    signxml signs a copy of the input and appends the new signature as the root's last
    child (no placeholder is ever used here), so it is the last one, and the only one
    beyond those the input had.
    """
    sigs = doc_root.findall(_q(DS, "Signature"))
    if len(sigs) != before + 1:
        raise SigningError("the enveloped signature could not be located after signing")
    return sigs[-1]


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
        certs = [c.chosen for c in sd["certificates"] or ()]
        sid = sd["signer_infos"][0]["sid"].chosen
        leaf = next((c for c in certs if isinstance(sid, cms.IssuerAndSerialNumber)
                     and c.serial_number == sid["serial_number"].native
                     and c.issuer == sid["issuer"]), None)
        if leaf is None:
            # Without its certificate the token cannot be validated later, so B-LT
            # cannot be honestly claimed.
            raise TsaUnavailable("the TSA's token does not carry the TSA certificate, which "
                                 "B-LT needs")
        targets.append((leaf, [c for c in certs if c is not leaf], {"time_stamping"}))
    vc = validation_context()
    material = run_sync(revinfo.collect(vc, targets))
    usp = _unsigned_signature_properties(signature)
    cv = etree.SubElement(usp, _q(XADES, "CertificateValues"))
    for c in _with_ocsp_responders(material.certificates, material.ocsp_responses):
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


class _OwnSignatureVerifier(XMLVerifier):
    """signxml's verifier aimed at the ``index``-th ``ds:Signature`` of the document.

    References to data outside the document (a detached seal's file) cannot be checked
    here and are skipped: the signature value over ``SignedInfo`` and every in-document
    reference still are.
    """

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def _get_signature(self, root: Any) -> Any:
        if root.tag == _q(DS, "Signature") and self.index == 0:
            return root
        return list(root.iter(_q(DS, "Signature")))[self.index]

    def _apply_transforms(self, payload: Any, *, transforms_node: Any, signature: Any) -> Any:
        if transforms_node is not None and hasattr(payload, "iter"):
            for xpath in transforms_node.iter(_q(DS, "XPath")):
                if " ".join((xpath.text or "").split()) == NOT_SIGNATURE_XPATH:
                    drop_signatures(payload.getroottree().getroot())
        return super()._apply_transforms(payload, transforms_node=transforms_node,
                                         signature=signature)

    def _verify_reference(self, reference: Any, index: int, root: Any, uri_resolver: Any,
                          c14n_algorithm: Any, signature: Any, signature_key_used: Any) -> Any:
        uri = reference.get("URI")
        if uri is not None and uri != "" and not uri.startswith("#"):
            return None
        return super()._verify_reference(reference, index, root, uri_resolver, c14n_algorithm,
                                         signature, signature_key_used)


def check_intact(data: bytes, signature: etree._Element, key: SealKey) -> None:
    """Refuse to extend a seal whose signed content or signature value has been altered.

    Extension adds timestamps on the service's authority; adding them to a forgery that
    merely carries the seal certificate would give it fresh evidence.
    """
    root = signature.getroottree().getroot()
    index = next(i for i, s in enumerate(root.iter(_q(DS, "Signature"))) if s is signature)
    config = SignatureConfiguration(expect_references=True)
    try:
        _OwnSignatureVerifier(index).verify(data, x509_cert=key.certificate,
                                            expect_config=config, parser=_safe_parser())
    except (InvalidDigest, InvalidSignature, InvalidInput, ValueError) as exc:
        raise SignatureNotIntact(f"the seal does not verify: {str(exc)[:300]}") from None


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False)
