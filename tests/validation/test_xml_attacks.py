"""XAdES validation of our own signatures, and XML signature wrapping against them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod
from signxml.xades import XAdESSigner

from signing.validation import validate
from tests.validation.conftest import SigningCa

DS = "http://www.w3.org/2000/09/xmldsig#"
DOC = (
    b'<Expediente xmlns="urn:test"><Resolucion Id="res-1">Conceder 100 EUR</Resolucion>'
    b"<Nota>libre</Nota></Expediente>"
)


def _sign(ca: SigningCa, reference_uri: list[str] | None = None) -> bytes:
    signer = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    signed = signer.sign(
        etree.fromstring(DOC), key=ca.signer_key, cert=[ca.signer_cert], reference_uri=reference_uri
    )
    return etree.tostring(signed)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def signed_element(test_ca: SigningCa) -> bytes:
    return _sign(test_ca, ["#res-1"])


def _check(ca: SigningCa, data: bytes) -> Any:
    return validate(data, trust_roots=[ca.root], offline=True)


def _codes(report: Any) -> set[str]:
    return {e.code for s in report.signatures for e in s.errors} | {e.code for e in report.errors}


def test_own_enveloped_xades_passes_with_scope(test_ca: SigningCa) -> None:
    report = _check(test_ca, _sign(test_ca))
    assert report.indication == "TOTAL_PASSED"
    (sig,) = report.signatures
    assert (sig.format, sig.level, sig.intact) == ("XAdES", "B-B", True)
    assert ("full_document", "Expediente") in {(s.kind, s.name) for s in sig.scope}
    assert "Validation Test Signer" in sig.signer.subject


def test_signed_element_scope_names_where_it_sits(
    test_ca: SigningCa, signed_element: bytes
) -> None:
    report = _check(test_ca, signed_element)
    assert report.indication == "TOTAL_PASSED"
    scope = report.signatures[0].scope
    assert any(s.kind == "xml_element" and s.detail == "/Expediente/Resolucion[1]" for s in scope)


def _wrap(data: bytes, fake_attr: str) -> bytes:
    """Classic XSW: the signed element moves into the signature's ds:Object; a fake replaces it."""
    root = etree.fromstring(data)
    original = root.find("{urn:test}Resolucion")
    sig = root.find(f"{{{DS}}}Signature")
    wrapper = etree.SubElement(sig, f"{{{DS}}}Object")
    wrapper.append(copy.deepcopy(original))
    fake = etree.Element("{urn:test}Resolucion", {fake_attr: "res-1"})
    fake.text = "Conceder 900000 EUR"
    root.replace(original, fake)
    return etree.tostring(root)  # type: ignore[no-any-return]


@pytest.mark.parametrize("fake_attr", ["Id", "ID", "id"])
def test_wrapped_xml_fails(test_ca: SigningCa, signed_element: bytes, fake_attr: str) -> None:
    report = _check(test_ca, _wrap(signed_element, fake_attr))
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "duplicate_id" in _codes(report)


def test_changed_signed_content_is_a_hash_failure(
    test_ca: SigningCa, signed_element: bytes
) -> None:
    forged = signed_element.replace(b"Conceder 100 EUR", b"Conceder 900 EUR")
    report = _check(test_ca, forged)
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert not report.signatures[0].intact


def test_unsigned_content_may_change_but_is_not_in_scope(
    test_ca: SigningCa, signed_element: bytes
) -> None:
    report = _check(test_ca, signed_element.replace(b"libre", b"otra nota"))
    assert report.indication == "TOTAL_PASSED"
    assert all("Nota" not in s.detail for s in report.signatures[0].scope)


def test_signed_properties_outside_their_signature_fail(
    test_ca: SigningCa, signed_element: bytes
) -> None:
    """The SignedProperties still digest correctly, but no longer belong to this signature."""
    root = etree.fromstring(signed_element)
    qp = root.find(f".//{{{DS}}}Object/{{http://uri.etsi.org/01903/v1.3.2#}}QualifyingProperties")
    qp.getparent().remove(qp)
    holder = etree.SubElement(root, "{urn:test}Anexo")
    holder.append(qp)
    report = _check(test_ca, etree.tostring(root))
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "signed_properties_misplaced" in _codes(report)


def test_dtd_and_entities_are_refused(test_ca: SigningCa, signed_element: bytes) -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + signed_element
    )
    report = _check(test_ca, hostile)
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "xml_dtd_forbidden" in _codes(report)


def test_xml_without_signature(test_ca: SigningCa) -> None:
    report = _check(test_ca, DOC)
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "SIGNED_DATA_NOT_FOUND")


def test_not_xml_nor_pdf(test_ca: SigningCa) -> None:
    report = _check(test_ca, b"\x89PNG\r\n")
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "format_unknown" in _codes(report)


class _UntypedSignedPropertiesSigner(XAdESSigner):
    """Signs correctly, but references SignedProperties without the XAdES Type."""

    def _add_reference_to_signed_info(self, sig_root: Any, node: Any, **attrs: Any) -> Any:
        attrs.pop("Type", None)
        return super()._add_reference_to_signed_info(sig_root, node, **attrs)


def test_signed_properties_need_the_xades_type(test_ca: SigningCa) -> None:
    signer = _UntypedSignedPropertiesSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    signed = etree.tostring(
        signer.sign(etree.fromstring(DOC), key=test_ca.signer_key, cert=[test_ca.signer_cert])
    )
    report = _check(test_ca, signed)
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "signed_properties_wrong_type" in _codes(report)


def _manifest_doc(correct: bool) -> bytes:
    import base64
    import hashlib

    root = etree.fromstring(DOC)
    target = root.find("{urn:test}Resolucion")
    digest = hashlib.sha256(etree.tostring(target, method="c14n", exclusive=True)).digest()
    if not correct:
        digest = hashlib.sha256(b"something else").digest()
    manifest = etree.SubElement(root, f"{{{DS}}}Manifest", Id="man-1")
    ref = etree.SubElement(manifest, f"{{{DS}}}Reference", URI="#res-1")
    transforms = etree.SubElement(ref, f"{{{DS}}}Transforms")
    etree.SubElement(
        transforms, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    etree.SubElement(
        ref, f"{{{DS}}}DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"
    )
    etree.SubElement(ref, f"{{{DS}}}DigestValue").text = base64.b64encode(digest).decode()
    return etree.tostring(root)  # type: ignore[no-any-return]


@pytest.mark.parametrize("correct", [True, False])
def test_a_manifest_counts_only_through_its_verified_references(
    test_ca: SigningCa, correct: bool
) -> None:
    signer = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    signed = etree.tostring(
        signer.sign(
            etree.fromstring(_manifest_doc(correct)),
            key=test_ca.signer_key,
            cert=[test_ca.signer_cert],
            reference_uri=["#man-1"],
        )
    )
    report = _check(test_ca, signed)
    sig = report.signatures[0]
    if correct:
        assert report.indication == "TOTAL_PASSED", sig.errors
        assert "manifest" in {s.kind for s in sig.scope}
    else:
        assert (report.indication, report.subindication) == (
            "INDETERMINATE",
            "SIGNED_DATA_NOT_FOUND",
        )
        assert "manifest_reference_failed" in {w.code for w in sig.warnings}
        assert not sig.intact
