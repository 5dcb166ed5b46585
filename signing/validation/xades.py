"""XAdES (and plain XML-DSig) signature validation.

signxml verifies the XML-DSig core (SignatureValue over SignedInfo, every
Reference digest); SHA-1 is accepted here for *validation only* and flagged as
``legacy_sha1``. Everything that decides what the signature means is checked by
eLocal on its own parse of the document: every ``ds:Signature`` is validated, nested
ones included; references resolve to exactly one node (unique Ids); SignedProperties
is referenced with the XAdES Type and sits in this signature's QualifyingProperties;
a Manifest is reported only through its own verified references and never counts as
the signature's only coverage; a base64-transformed element must hold nothing but its
text; the SigningCertificate(V2) digest names the certificate that verified; and the
SignatureTimeStamp covers this SignatureValue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import cms, ocsp
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as pyca_x509
from lxml import etree
from pyhanko.sign.validation.generic_cms import validate_cert_usage, validate_tst_signed_data
from pyhanko.sign.validation.settings import KeyUsageConstraints
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature

from signing.validation import codes
from signing.validation.limits import ValidationLimits
from signing.validation.outcome import apply_trust, fail, indeterminate
from signing.validation.pades import check_policy
from signing.validation.policies import PolicyStore, known_policy
from signing.validation.report import (
    Indication,
    Message,
    ScopeItem,
    SignatureReport,
    SubIndication,
    TimestampInfo,
    ValidationReport,
    worst,
)
from signing.validation.trust import TrustSettings, signer_identity, unique_certs
from signing.xmlparse import XmlDtdForbidden, XmlRejected, parse_xml, remove_keeping_tail

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES_PREFIX = "http://uri.etsi.org/01903/"
SIGNED_PROPS_TYPES = {
    "http://uri.etsi.org/01903#SignedProperties",
    "http://uri.etsi.org/01903/v1.1.1#SignedProperties",
}
MANIFEST_TYPE = "http://www.w3.org/2000/09/xmldsig#Manifest"
ID_ATTRIBUTES = ("Id", "ID", "id")
_C14N_DEFAULT = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
_DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha224": "sha224",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
_EXPECT = SignatureConfiguration(
    require_x509=True,
    expect_references=True,
    # Every public-key method; HMAC proves nothing about a signer.
    signature_methods=frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC")),
    digest_algorithms=frozenset(DigestAlgorithm),
    ignore_ambiguous_key_info=True,
)


def _ds(name: str) -> str:
    return f"{{{DS}}}{name}"


def _local(el: Any) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_xades(el: Any, name: str) -> bool:
    return (
        isinstance(el.tag, str)
        and _local(el) == name
        and (etree.QName(el).namespace or "").startswith(XADES_PREFIX)
    )


def _xfind(root: Any, name: str) -> list[Any]:
    """XAdES elements under ``root``, not descending into nested ``ds:Signature`` elements.

    A counter-signature sits inside its parent's UnsignedProperties; its timestamps and
    certificates belong to it, not to the parent.
    """
    found: list[Any] = []
    stack = [root]
    while stack:
        el = stack.pop()
        if _is_xades(el, name):
            found.append(el)
        stack.extend(
            reversed([c for c in el if isinstance(c.tag, str) and c.tag != _ds("Signature")])
        )
    return found


class _ChosenSignatureVerifier(XMLVerifier):
    """signxml's core, aimed at the n-th ``ds:Signature`` (signxml works on copies of the tree)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def _get_signature(self, root: Any) -> Any:
        if root.tag == _ds("Signature") and self.index == 0:
            return root
        return list(root.iter(_ds("Signature")))[self.index]

    def _apply_transforms(self, payload: Any, *, transforms_node: Any, signature: Any) -> Any:
        """Adds the signature-excluding XPath transforms signxml lacks; refuses other unknowns."""
        if transforms_node is not None:
            for transform in transforms_node.findall(_ds("Transform")):
                algorithm = transform.get("Algorithm", "")
                if algorithm in _KNOWN_TRANSFORMS:
                    continue
                if algorithm == _XPATH_FILTER2:
                    for xp in transform:
                        if not isinstance(xp.tag, str):
                            continue
                        expr = " ".join((xp.text or "").split())
                        if xp.get("Filter") != "subtract" or expr not in _SUBTRACT_SIGNATURES:
                            raise UnsupportedTransform(f"XPath filter {xp.get('Filter')} {expr!r}")
                        _drop_signatures(payload, signature if expr.startswith("here()") else None)
                    continue
                if algorithm == _XPATH_1:
                    xp = transform.find(_ds("XPath"))
                    expr = " ".join(((xp.text if xp is not None else "") or "").split())
                    if expr not in _NOT_SIGNATURE:
                        raise UnsupportedTransform(f"XPath {expr!r}")
                    _drop_signatures(payload, None)
                    continue
                raise UnsupportedTransform(f"transform {algorithm!r}")
        return super()._apply_transforms(
            payload, transforms_node=transforms_node, signature=signature
        )


class UnsupportedTransform(Exception):
    """A reference transform eLocal does not evaluate, so it cannot say what was signed."""


_XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
_XPATH_1 = "http://www.w3.org/TR/1999/REC-xpath-19991116"
_KNOWN_TRANSFORMS = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2000/09/xmldsig#base64",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
}
_SUBTRACT_SIGNATURES = {
    "/descendant::*[name()='ds:Signature']",
    "/descendant::ds:Signature",
    "here()/ancestor::ds:Signature[1]",
}
_NOT_SIGNATURE = {"not(ancestor-or-self::ds:Signature)"}


def _drop_signatures(payload: Any, only: Any) -> None:
    if not hasattr(payload, "iter"):
        return
    root = payload.getroottree().getroot()
    if only is not None:
        targets = [s for s in root.iter(_ds("Signature")) if s.get("Id") == only.get("Id")][:1]
    else:
        targets = list(root.iter(_ds("Signature")))
    for target in targets:
        remove_keeping_tail(target)


async def validate_xml(
    data: bytes,
    detached: bytes | None,
    trust: TrustSettings,
    policies: PolicyStore,
    limits: ValidationLimits,
) -> ValidationReport:
    report = ValidationReport(
        "XML",
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
        trust.validation_time,
        offline=trust.offline,
    )
    try:
        tree = parse_xml(data)
    except XmlDtdForbidden as exc:
        report.errors.append(Message(codes.XML_DTD_FORBIDDEN, exc.detail))
        return report
    except XmlRejected as exc:
        report.errors.append(Message(codes.MALFORMED_XML, exc.detail))
        return report
    except Exception as exc:
        report.errors.append(Message(codes.MALFORMED_XML, f"{type(exc).__name__}"))
        return report
    root = tree.getroot()
    all_sigs = list(root.iter(_ds("Signature")))
    if len(all_sigs) > limits.max_signatures:
        report.errors.append(
            Message(codes.LIMIT_EXCEEDED, f"more than {limits.max_signatures} signatures")
        )
        return report
    duplicates = _duplicate_ids(root)
    # Every ds:Signature is validated, nested ones included (counter-signatures, or a
    # signature hidden in another's ds:Object): each is its own entry, the worst decides.
    for index, sig_el in enumerate(all_sigs):
        try:
            one = await _validate_one(
                root, data, index, sig_el, detached, duplicates, trust, policies, limits
            )
        except Exception as exc:  # hostile input must end in a report, never an exception
            one = SignatureReport(
                id=sig_el.get("Id") or f"signature-{index + 1}",
                format="XAdES",
                level=None,
                indication=Indication.TOTAL_PASSED,
            )
            fail(
                one,
                SubIndication.FORMAT_FAILURE,
                codes.MALFORMED_XML,
                f"{type(exc).__name__}"[:200],
            )
        report.signatures.append(one)
    if not report.signatures:
        report.errors.append(Message(codes.NO_SIGNATURE, "the XML document has no signature"))
        report.indication, report.subindication = (
            Indication.TOTAL_FAILED,
            SubIndication.SIGNED_DATA_NOT_FOUND,
        )
        return report
    report.indication, report.subindication = worst(report.signatures)
    return report


def _duplicate_ids(root: Any) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr, value in el.attrib.items():
            if etree.QName(attr).localname in ID_ATTRIBUTES:
                if value in seen:
                    dup.add(value)
                seen.add(value)
    return dup


def _by_id(root: Any, ident: str) -> list[Any]:
    return [
        el
        for el in root.iter()
        if isinstance(el.tag, str)
        and any(
            etree.QName(a).localname in ID_ATTRIBUTES and v == ident for a, v in el.attrib.items()
        )
    ]


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


def _encapsulated_certs(sig_el: Any) -> list[asn1_x509.Certificate]:
    out = []
    for enc in _xfind(sig_el, "EncapsulatedX509Certificate"):
        try:
            cert = asn1_x509.Certificate.load(_b64(enc.text))
            cert.native  # noqa: B018 - a full parse, before anything relies on it
        except Exception:  # noqa: S112 - an unreadable certificate cannot verify anything
            continue
        out.append(cert)
    return out


#: Certificates tried as the signer's, at most, per signature. The one the signed
#: SigningCertificate(V2) digest names is tried first, so a real signer never needs more.
MAX_KEY_CANDIDATES = 16


def _ordered_candidates(
    sig_el: Any, certs: list[asn1_x509.Certificate]
) -> list[asn1_x509.Certificate]:
    """Distinct candidate certificates, those named by a SigningCertificate digest first.

    The digests are read before anything is verified: they only choose the order of
    attempts; the certificate that verifies is checked against them again afterwards.
    """
    named = _signing_cert_digests(sig_el)
    unique: list[asn1_x509.Certificate] = []
    seen: set[bytes] = set()
    for cert in certs:
        der = cert.dump()
        if der not in seen:
            seen.add(der)
            unique.append(cert)

    def is_named(cert: asn1_x509.Certificate) -> bool:
        der = cert.dump()
        return any(hmac.compare_digest(hashlib.new(a, der).digest(), v) for a, v in named)

    return sorted(unique, key=lambda c: not is_named(c))


def _signing_cert_digests(sig_el: Any) -> list[tuple[str, bytes]]:
    """(algorithm, digest) pairs of this signature's own SigningCertificate(V2) elements."""
    out: list[tuple[str, bytes]] = []
    for obj in sig_el.findall(_ds("Object")):
        for qp in obj:
            if not _is_xades(qp, "QualifyingProperties"):
                continue
            for sp in qp:
                if not _is_xades(sp, "SignedProperties"):
                    continue
                for cd in _xfind(sp, "CertDigest"):
                    dm, dv = cd.find(_ds("DigestMethod")), cd.find(_ds("DigestValue"))
                    algo = _DIGESTS.get(dm.get("Algorithm", "") if dm is not None else "")
                    try:
                        value = _b64(dv.text if dv is not None else None)
                    except (binascii.Error, ValueError):
                        continue
                    if algo:
                        out.append((algo, value))
    return out


def _manifest_reference_count(root: Any, references: list[Any]) -> int:
    """References inside the Manifests this SignedInfo points at (each is digested)."""
    count = 0
    for ref in references:
        uri = ref.get("URI") or ""
        if not uri.startswith("#"):
            continue
        target = _resolve(root, uri)
        if target is not None and target.tag == _ds("Manifest"):
            count += len(target.findall(_ds("Reference")))
    return count


def _certs_in(el: Any) -> list[asn1_x509.Certificate]:
    out = []
    for c in el.iter(_ds("X509Certificate")):
        try:
            cert = asn1_x509.Certificate.load(_b64(c.text))
            cert.native  # noqa: B018 - a full parse, before anything relies on it
        except Exception:  # noqa: S112 - an unreadable KeyInfo certificate cannot verify anything
            continue
        out.append(cert)
    return out


async def _validate_one(
    root: Any,
    data: bytes,
    index: int,
    sig_el: Any,
    detached: bytes | None,
    duplicates: set[str],
    trust: TrustSettings,
    policies: PolicyStore,
    limits: ValidationLimits,
) -> SignatureReport:
    sig = SignatureReport(
        id=sig_el.get("Id") or f"signature-{index + 1}",
        format="XAdES",
        level=None,
        indication=Indication.TOTAL_PASSED,
        intact=True,
    )
    signed_info = sig_el.find(_ds("SignedInfo"))
    if signed_info is None:
        fail(sig, SubIndication.FORMAT_FAILURE, codes.MALFORMED_XML, "ds:SignedInfo is missing")
        return sig
    references = signed_info.findall(_ds("Reference"))
    # Manifest references are digested too: they count against the same limit.
    total = len(references)
    if total <= limits.max_references:
        total += _manifest_reference_count(root, references)
    if total > limits.max_references:
        fail(
            sig,
            SubIndication.FORMAT_FAILURE,
            codes.LIMIT_EXCEEDED,
            f"more than {limits.max_references} references (Manifest references included)",
        )
        return sig
    method = signed_info.find(_ds("SignatureMethod"))
    sig.signature_algorithm = method.get("Algorithm") if method is not None else None
    uris = [r.get("URI") for r in references]
    for uri in uris:
        if uri and uri.startswith("#") and uri[1:] in duplicates:
            fail(
                sig,
                SubIndication.FORMAT_FAILURE,
                codes.DUPLICATE_ID,
                f"Id {uri[1:]!r} is not unique in the document",
            )
    if sig.indication is Indication.TOTAL_FAILED:
        return sig

    # XML-DSig core, with each certificate offered in KeyInfo until one verifies.
    key_certs = (
        _certs_in(sig_el.find(_ds("KeyInfo"))) if sig_el.find(_ds("KeyInfo")) is not None else []
    )
    # A signer may ship its certificate only in CertificateValues; try those after KeyInfo.
    candidates = _ordered_candidates(sig_el, key_certs + _encapsulated_certs(sig_el))
    if not candidates:
        indeterminate(
            sig,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            codes.SIGNING_CERT_MISSING,
            "no certificate in ds:KeyInfo or CertificateValues",
        )
        return sig
    resolver = _detached_resolver(detached)
    verified_cert: asn1_x509.Certificate | None = None
    verifier: _ChosenSignatureVerifier | None = None
    last_error = "no certificate verifies the signature value"
    if len(candidates) > MAX_KEY_CANDIDATES:
        # Each attempt re-parses the whole document: past the cap, stop guessing.
        last_error = (
            f"none of the first {MAX_KEY_CANDIDATES} candidate certificates verifies "
            f"the signature value ({len(candidates)} offered)"
        )
    for cert in candidates[:MAX_KEY_CANDIDATES]:
        pyca = pyca_x509.load_der_x509_certificate(cert.dump())
        verifier = _ChosenSignatureVerifier(index)
        config = SignatureConfiguration(
            **{
                **_EXPECT.__dict__,
                "verification_time": pyca.not_valid_before_utc + timedelta(seconds=1),
            }
        )
        try:
            verifier.verify(
                data,
                x509_cert=pyca,
                uri_resolver=resolver,
                expect_config=config,
                parser=_SafeParser(),
            )
            verified_cert = cert
            break
        except InvalidDigest as exc:
            fail(sig, SubIndication.HASH_FAILURE, codes.REFERENCE_DIGEST_MISMATCH, str(exc))
            verified_cert = cert
            break
        except UnsupportedTransform as exc:
            indeterminate(
                sig,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                codes.UNSUPPORTED_TRANSFORM,
                f"cannot evaluate what is signed: {exc}",
            )
            return sig
        except InvalidSignature as exc:
            last_error = str(exc)[:300]
            continue
        except InvalidCertificate as exc:
            last_error = str(exc)[:300]
            continue
        except (InvalidInput, etree.DocumentInvalid, binascii.Error, ValueError) as exc:
            text = str(exc)[:300]
            if "resolve reference" in text or "External URI" in text:
                indeterminate(
                    sig, SubIndication.SIGNED_DATA_NOT_FOUND, codes.REFERENCE_UNRESOLVED, text
                )
            else:
                fail(sig, SubIndication.FORMAT_FAILURE, codes.MALFORMED_XML, text)
            return sig
        except Exception as exc:
            fail(
                sig,
                SubIndication.FORMAT_FAILURE,
                codes.MALFORMED_XML,
                f"{type(exc).__name__}: {exc}"[:300],
            )
            return sig
    if verified_cert is None:
        if len(candidates) > MAX_KEY_CANDIDATES:
            fail(sig, SubIndication.FORMAT_FAILURE, codes.LIMIT_EXCEEDED, last_error)
        else:
            fail(sig, SubIndication.SIG_CRYPTO_FAILURE, codes.SIGNATURE_INVALID, last_error)
        return sig
    sig.signer = signer_identity(verified_cert)
    weak = _weak_key(verified_cert)
    if weak:
        indeterminate(sig, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, codes.WEAK_ALGORITHM, weak)
    if sig.indication is Indication.TOTAL_FAILED:
        return sig
    if sig.signature_algorithm and "sha1" in sig.signature_algorithm.lower():
        sig.warn(
            codes.LEGACY_SHA1,
            f"signature method {sig.signature_algorithm} (accepted for validation only)",
        )
    for ref in references:
        dm = ref.find(_ds("DigestMethod"))
        if dm is not None and _DIGESTS.get(dm.get("Algorithm", "")) == "sha1":
            sig.warn(codes.LEGACY_SHA1, f"reference {ref.get('URI')!r} digested with SHA-1")
            break

    # What the signature really covers, on our own parse.
    signed_props = None
    data_refs = 0
    manifests = 0
    for ref in references:
        uri, rtype = ref.get("URI"), ref.get("Type")
        target = _resolve(root, uri)
        if uri is not None and uri.startswith("#") and target is None:
            indeterminate(
                sig,
                SubIndication.SIGNED_DATA_NOT_FOUND,
                codes.REFERENCE_UNRESOLVED,
                f"reference {uri!r} resolves to nothing",
            )
            continue
        if target is not None and _is_xades(target, "SignedProperties"):
            if rtype not in SIGNED_PROPS_TYPES:
                fail(
                    sig,
                    SubIndication.FORMAT_FAILURE,
                    codes.SIGNED_PROPERTIES_TYPE,
                    "the SignedProperties reference lacks the XAdES Type",
                )
            qp = target.getparent()
            if (
                qp is None
                or not _is_xades(qp, "QualifyingProperties")
                or not any(a is sig_el for a in qp.iterancestors())
                or (sig_el.get("Id") and qp.get("Target") not in (None, "#" + sig_el.get("Id")))
            ):
                fail(
                    sig,
                    SubIndication.FORMAT_FAILURE,
                    codes.SIGNED_PROPERTIES_MISPLACED,
                    "the signed SignedProperties are not this signature's QualifyingProperties",
                )
            signed_props = target
            continue
        if rtype in SIGNED_PROPS_TYPES:
            fail(
                sig,
                SubIndication.FORMAT_FAILURE,
                codes.SIGNED_PROPERTIES_TYPE,
                "a SignedProperties-typed reference points at something else",
            )
            continue
        if (target is not None and target.tag == _ds("Manifest")) or rtype == MANIFEST_TYPE:
            if target is None or not _manifest_ok(verifier, root, target, resolver, sig):
                continue
            sig.scope.append(
                ScopeItem("manifest", uri or "", "covered through its verified references")
            )
            manifests += 1
            continue
        if target is not None and _base64_hides_content(ref, target):
            fail(
                sig,
                SubIndication.FORMAT_FAILURE,
                codes.UNSUPPORTED_TRANSFORM,
                f"reference {uri!r}: a base64 transform over an element with child nodes "
                "(only its first text is signed; the rest is not)",
            )
            continue
        if uri == "":
            sig.scope.append(ScopeItem("full_document", etree.QName(root).localname, "enveloped"))
        elif target is not None:
            if _is_signature_metadata(target, sig_el):
                # KeyInfo or SignatureProperties: signed, but they are not the signed data.
                sig.scope.append(ScopeItem("signature_metadata", uri or "", _path(target)))
                continue
            if target.tag == _ds("SignatureValue"):
                # A counter-signature: it signs another signature's value.
                sig.scope.append(ScopeItem("countersigned_signature", uri or "", _path(target)))
            elif any(a is sig_el for a in target.iterancestors()) or target is sig_el:
                sig.scope.append(ScopeItem("signature_object", uri or "", _path(target)))
            else:
                sig.scope.append(ScopeItem("xml_element", uri or "", _path(target)))
        else:
            sig.scope.append(ScopeItem("detached", uri or "", "external content"))
        data_refs += 1
    if data_refs == 0:
        # A Manifest's references are the application's to check, not the signature's:
        # a signature covering only Manifests does not sign any data object itself.
        indeterminate(
            sig,
            SubIndication.SIGNED_DATA_NOT_FOUND,
            codes.SIGNED_DATA_NOT_FOUND,
            "the signature covers data only through a Manifest (a Manifest alone does not count)"
            if manifests
            else "the signature covers no data object",
        )
    if sig.indication is Indication.TOTAL_FAILED:
        return sig

    if signed_props is None:
        sig.format = "XMLDSig"
        indeterminate(
            sig,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            codes.SIGNED_PROPERTIES_MISSING,
            "no signed XAdES properties: the signing certificate is not bound to the signature",
        )
    else:
        sig.level = "B-B"
        _signed_properties(signed_props, verified_cert, sig, policies)

    # Unsigned properties: timestamps and validation data.
    qp = signed_props.getparent() if signed_props is not None else None
    unsigned = (
        next((e for e in qp if _is_xades(e, "UnsignedProperties")), None)
        if qp is not None
        else None
    )
    extra_certs = list(key_certs)
    ocsps: list[Any] = []
    crls: list[Any] = []
    proven: datetime | None = None
    if unsigned is not None:
        for cv in _xfind(unsigned, "CertificateValues"):
            for enc in cv:
                if _is_xades(enc, "EncapsulatedX509Certificate"):
                    try:
                        extra_certs.append(asn1_x509.Certificate.load(_b64(enc.text)))
                    except Exception:
                        sig.warn(
                            codes.CHAIN_INVALID, "an unreadable certificate in CertificateValues"
                        )
        for enc in _xfind(unsigned, "EncapsulatedOCSPValue"):
            try:
                ocsps.append(ocsp.OCSPResponse.load(_b64(enc.text)))
            except Exception:
                sig.warn(
                    codes.REVOCATION_UNKNOWN, "an unreadable OCSP response in RevocationValues"
                )
        for enc in _xfind(unsigned, "EncapsulatedCRLValue"):
            try:
                crls.append(asn1_crl.CertificateList.load(_b64(enc.text)))
            except Exception:
                sig.warn(codes.REVOCATION_UNKNOWN, "an unreadable CRL in RevocationValues")
        sv = sig_el.find(_ds("SignatureValue"))
        for sts in _xfind(unsigned, "SignatureTimeStamp"):
            info = await _timestamp(sts, [sv], trust, extra_certs, ocsps, crls)
            sig.timestamps.append(info)
            if info.unreadable:
                sig.warn(
                    codes.TIMESTAMP_INVALID, f"a signature timestamp cannot be read: {info.detail}"
                )
                continue
            if not info.intact:
                fail(
                    sig,
                    SubIndication.HASH_FAILURE,
                    codes.TIMESTAMP_INVALID,
                    f"a signature timestamp does not cover this SignatureValue: {info.detail}",
                )
                return sig
            if info.trusted and info.time is not None:
                proven = info.time if proven is None else min(proven, info.time)
            elif not info.trusted:
                sig.warn(
                    codes.TIMESTAMP_UNTRUSTED, "the timestamp authority is not in the trust store"
                )
        if sig.level and any(t.intact for t in sig.timestamps):
            sig.level = "B-T"
            if _xfind(unsigned, "CertificateValues") and _xfind(unsigned, "RevocationValues"):
                sig.level = "B-LT"
        for ats in _xfind(unsigned, "ArchiveTimeStamp"):
            info = await _timestamp(ats, None, trust, extra_certs, ocsps, crls)
            info.kind = "archive"
            info.detail = (
                "token signature checked; what it covers is not evaluated (level stays B-LT)"
            )
            sig.timestamps.append(info)
            sig.warn(
                codes.ARCHIVE_TIMESTAMP_NOT_EVALUATED,
                "archive timestamp: token verified, its coverage of the signature is not evaluated",
            )
    sig.best_signature_time = proven or trust.validation_time
    if (
        sig.claimed_signing_time
        and proven
        and sig.claimed_signing_time > proven + timedelta(minutes=5)
    ):
        sig.warn(codes.TIMESTAMP_ORDER, "the claimed signing time is later than the timestamp")
    if sig.indication is not Indication.TOTAL_PASSED and sig.subindication in (
        SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
        SubIndication.SIGNED_DATA_NOT_FOUND,
    ):
        return sig

    try:
        vc = trust.context(
            moment=proven, other_certs=unique_certs(extra_certs), ocsps=ocsps, crls=crls
        )
        result = await validate_cert_usage(
            verified_cert,
            vc,
            KeyUsageConstraints(
                key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
            ),
            paths=vc.path_builder.async_build_paths_lazy(verified_cert),
        )
    except Exception as exc:
        indeterminate(
            sig,
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            codes.CHAIN_INVALID,
            f"the certificate path cannot be evaluated: {type(exc).__name__}",
        )
        return sig
    ok = result.success_result is not None
    apply_trust(
        sig,
        trusted=ok,
        problem=result.error_subindic,
        revocation=result.revo_details,
        proven_time=proven,
    )
    return sig


_BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"


def _base64_hides_content(ref: Any, target: Any) -> bool:
    """A base64-transformed element that has child nodes.

    The digest covers only the element's leading text; children, and the text after
    them, could be added after signing while the element is reported as covered.
    """
    transforms = ref.find(_ds("Transforms"))
    if transforms is None:
        return False
    if not any(t.get("Algorithm") == _BASE64 for t in transforms.findall(_ds("Transform"))):
        return False
    return len(target) > 0


def _path(el: Any) -> str:
    """Where a covered element sits (``/Expediente/Resolucion[1]``): what an application reads."""
    parts = []
    node = el
    while node is not None and isinstance(node.tag, str):
        parent = node.getparent()
        name = _local(node)
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
            name = f"{name}[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def _is_signature_metadata(target: Any, sig_el: Any) -> bool:
    """This signature's KeyInfo or SignatureProperties (or something inside them)."""
    for node in (target, *target.iterancestors()):
        if node is sig_el:
            return False
        if node.tag in (_ds("KeyInfo"), _ds("SignatureProperties")) and any(
            a is sig_el for a in node.iterancestors()
        ):
            return True
    return False


def _weak_key(cert: asn1_x509.Certificate) -> str | None:
    """The same key-size floor pyHanko applies to PDF signatures."""
    key = cert.public_key
    if key.algorithm in ("rsa", "dsa") and key.bit_size < 2048:
        return f"{key.algorithm.upper()} key of {key.bit_size} bits (at least 2048 required)"
    return None


def _resolve(root: Any, uri: str | None) -> Any:
    if uri is None or uri == "":
        return root if uri == "" else None
    if uri.startswith("#"):
        found = _by_id(root, uri[1:])
        return found[0] if len(found) == 1 else None
    return None


def _detached_resolver(detached: bytes | None) -> Callable[[str], Any] | None:
    """Every external reference resolves to the detached content (XML as a tree, else bytes)."""
    if detached is None:
        return None
    payload: Any = detached
    if detached.lstrip()[:1] == b"<":
        try:
            payload = parse_xml(detached).getroot()
        except XmlRejected:
            payload = detached
    return lambda uri: payload


def _manifest_ok(
    verifier: Any, root: Any, manifest: Any, resolver: Any, sig: SignatureReport
) -> bool:
    """Verify each reference of a signed Manifest; only then does it count as coverage."""
    refs = manifest.findall(_ds("Reference"))
    if not refs:
        sig.warn(codes.MANIFEST_REFERENCE_FAILED, "an empty Manifest")
        return False
    for i, ref in enumerate(refs):
        try:
            payload = (
                _resolve(root, ref.get("URI")) if (ref.get("URI") or "").startswith("#") else None
            )
            if payload is None and not (ref.get("URI") or "").startswith("#"):
                payload = resolver(ref.get("URI")) if resolver else None
            if payload is None:
                raise InvalidInput("unresolved")
            if hasattr(payload, "tag") and _base64_hides_content(ref, payload):
                raise UnsupportedTransform("base64 over an element with child nodes")
            transforms = ref.find(_ds("Transforms"))
            c14n = verifier._apply_transforms(payload, transforms_node=transforms, signature=None)
            alg = DigestAlgorithm(ref.find(_ds("DigestMethod")).get("Algorithm"))
            digest = verifier._get_digest(c14n, alg)
            if not hmac.compare_digest(_b64(ref.find(_ds("DigestValue")).text), digest):
                raise InvalidDigest("mismatch")
        except Exception as exc:
            sig.warn(
                codes.MANIFEST_REFERENCE_FAILED,
                f"manifest reference {i} ({ref.get('URI')!r}) fails: {type(exc).__name__}",
            )
            return False
    return True


def _signed_properties(
    sp: Any, cert: asn1_x509.Certificate, sig: SignatureReport, policies: PolicyStore
) -> None:
    st = next(iter(_xfind(sp, "SigningTime")), None)
    if st is not None and st.text:
        try:
            sig.claimed_signing_time = datetime.fromisoformat(
                st.text.strip().replace("Z", "+00:00")
            )
        except ValueError:
            sig.warn(codes.MALFORMED_XML, "SigningTime is not a valid date")
    cert_der = cert.dump()
    refs = _xfind(sp, "SigningCertificate") + _xfind(sp, "SigningCertificateV2")
    if not refs:
        indeterminate(
            sig,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            codes.SIGNING_CERT_MISSING,
            "no SigningCertificate(V2) in the signed properties",
        )
    else:
        matched = False
        for container in refs:
            for cd in _xfind(container, "CertDigest"):
                dm = cd.find(_ds("DigestMethod"))
                dv = cd.find(_ds("DigestValue"))
                algo = _DIGESTS.get(dm.get("Algorithm", "") if dm is not None else "")
                try:
                    expected = _b64(dv.text if dv is not None else None)
                except (binascii.Error, ValueError):
                    continue
                if algo and hmac.compare_digest(hashlib.new(algo, cert_der).digest(), expected):
                    matched = True
                    if algo == "sha1":
                        sig.warn(codes.LEGACY_SHA1, "the signing-certificate digest uses SHA-1")
        if not matched:
            indeterminate(
                sig,
                SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                codes.SIGNING_CERT_MISMATCH,
                "the signed signing-certificate digest does not match the verifying certificate",
            )
    spi = next(iter(_xfind(sp, "SignaturePolicyIdentifier")), None)
    if spi is not None:
        ident_el = next(iter(_xfind(spi, "Identifier")), None)
        hash_el = next(iter(_xfind(spi, "SigPolicyHash")), None)
        if ident_el is not None and hash_el is not None:
            ident = (ident_el.text or "").strip()
            dm = hash_el.find(_ds("DigestMethod"))
            dv = hash_el.find(_ds("DigestValue"))
            algo = _DIGESTS.get(dm.get("Algorithm", "") if dm is not None else "", "unknown")
            try:
                value = _b64(dv.text if dv is not None else None)
            except (binascii.Error, ValueError):
                value = b""
            sig.policy = check_policy(ident, algo, value, policies, sig)
            sig.format = "XAdES"
            policy = known_policy(ident)
            if policy is not None:
                names = {_local(e) for e in sp.iter() if isinstance(e.tag, str)}
                for required in policy.xades_required:
                    if required not in names and f"{required}V2" not in names:
                        sig.warn(codes.POLICY_REQUIREMENT, f"{policy.name} requires {required}")
        else:
            sig.warn(codes.POLICY_UNKNOWN, "an implied or unreadable signature policy")


async def _timestamp(
    el: Any,
    covered: list[Any] | None,
    trust: TrustSettings,
    certs: list[Any],
    ocsps: list[Any],
    crls: list[Any],
) -> TimestampInfo:
    info = TimestampInfo(kind="signature", time=None, intact=False, trusted=False)
    enc = next((e for e in el if _is_xades(e, "EncapsulatedTimeStamp")), None)
    if enc is None:
        info.detail = "no EncapsulatedTimeStamp"
        return info
    try:
        token = cms.ContentInfo.load(_b64(enc.text))
        sd = token["content"]
        sd["encap_content_info"]["content"].parsed.native  # noqa: B018 - a token we cannot parse proves nothing
    except Exception as exc:
        info.detail = f"{type(exc).__name__}: {exc}"[:200]
        info.unreadable = True
        return info
    try:
        c14n_el = el.find(_ds("CanonicalizationMethod"))
        algorithm = c14n_el.get("Algorithm") if c14n_el is not None else _C14N_DEFAULT
        if covered is not None:
            octets = b"".join(_c14n(node, algorithm) for node in covered)

            def imprint(algo: str) -> bytes:
                return hashlib.new(algo, octets).digest()
        else:

            def imprint(algo: str) -> bytes:
                tst = sd["encap_content_info"]["content"].parsed
                return bytes(tst["message_imprint"]["hashed_message"].native)

        vc = trust.context(other_certs=unique_certs(certs), ocsps=ocsps, crls=crls)
        status = await validate_tst_signed_data(sd, vc, imprint)
    except Exception as exc:
        info.detail = f"{type(exc).__name__}: {exc}"[:200]
        info.unreadable = True
        return info
    info.time = status.get("timestamp")
    info.intact = bool(status.get("intact") and status.get("valid"))
    info.trusted = bool(status.get("trusted"))
    signing_cert = status.get("signing_cert")
    info.tsa = signing_cert.subject.human_friendly if signing_cert is not None else None
    return info


def _c14n(node: Any, algorithm: str) -> bytes:
    exclusive = "exc-c14n" in algorithm
    with_comments = algorithm.endswith("#WithComments")
    if "xml-c14n11" in algorithm:
        return etree.tostring(node, method="c14n", exclusive=False, with_comments=with_comments)  # type: ignore[no-any-return]
    return etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=with_comments)  # type: ignore[no-any-return]


class _SafeParser(etree.XMLParser):
    """The parser signxml uses for its internal copies: same hardening as ``signing.xmlparse``."""

    def __init__(self) -> None:
        super().__init__(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
