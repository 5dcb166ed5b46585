"""XAdES validation of our own signatures, and XML signature wrapping against them.

Everything goes through ``POST /validation``, with the test CA as the trust store,
so a signature that is not attacked comes out TOTAL_PASSED and any other verdict is
the attack being caught.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod
from signxml.xades import XAdESSigner

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


Check = Callable[[bytes], dict[str, Any]]


def trusting(client: Any, ctx: Any, ca: SigningCa, monkeypatch: pytest.MonkeyPatch) -> Check:
    """``POST /validation`` against a trust store holding ``ca``'s root."""
    monkeypatch.setattr(ctx.validation, "trust_roots", lambda paths: (ca.root,))

    def post(data: bytes) -> dict[str, Any]:
        r = client.post(
            "/validation", files={"document": ("doc.xml", data)}, data={"offline": "true"}
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    return post


@pytest.fixture
def check(client: Any, ctx: Any, test_ca: SigningCa, monkeypatch: pytest.MonkeyPatch) -> Check:
    return trusting(client, ctx, test_ca, monkeypatch)


def _codes(report: dict[str, Any]) -> set[str]:
    return {e["code"] for s in report["signatures"] for e in s["errors"]} | {
        e["code"] for e in report["errors"]
    }


def test_own_enveloped_xades_passes_with_scope(test_ca: SigningCa, check: Check) -> None:
    report = check(_sign(test_ca))
    assert report["indication"] == "TOTAL_PASSED"
    (sig,) = report["signatures"]
    assert (sig["format"], sig["level"], sig["intact"]) == ("XAdES", "B-B", True)
    assert ("full_document", "Expediente") in {(s["kind"], s["name"]) for s in sig["scope"]}
    assert "Validation Test Signer" in sig["signer"]["subject"]


def test_signed_element_scope_names_where_it_sits(signed_element: bytes, check: Check) -> None:
    report = check(signed_element)
    assert report["indication"] == "TOTAL_PASSED"
    scope = report["signatures"][0]["scope"]
    assert any(
        s["kind"] == "xml_element" and s["detail"] == "/Expediente/Resolucion[1]" for s in scope
    )


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
def test_wrapped_xml_fails(signed_element: bytes, fake_attr: str, check: Check) -> None:
    report = check(_wrap(signed_element, fake_attr))
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "duplicate_id" in _codes(report)


def test_changed_signed_content_is_a_hash_failure(signed_element: bytes, check: Check) -> None:
    forged = signed_element.replace(b"Conceder 100 EUR", b"Conceder 900 EUR")
    report = check(forged)
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert not report["signatures"][0]["intact"]


def test_unsigned_content_may_change_but_is_not_in_scope(
    signed_element: bytes, check: Check
) -> None:
    report = check(signed_element.replace(b"libre", b"otra nota"))
    assert report["indication"] == "TOTAL_PASSED"
    assert all("Nota" not in s["detail"] for s in report["signatures"][0]["scope"])


def test_signed_properties_outside_their_signature_fail(
    signed_element: bytes, check: Check
) -> None:
    """The SignedProperties still digest correctly, but no longer belong to this signature."""
    root = etree.fromstring(signed_element)
    qp = root.find(f".//{{{DS}}}Object/{{http://uri.etsi.org/01903/v1.3.2#}}QualifyingProperties")
    qp.getparent().remove(qp)
    holder = etree.SubElement(root, "{urn:test}Anexo")
    holder.append(qp)
    report = check(etree.tostring(root))
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "signed_properties_misplaced" in _codes(report)


def test_dtd_and_entities_are_refused(signed_element: bytes, check: Check) -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + signed_element
    )
    report = check(hostile)
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "xml_dtd_forbidden" in _codes(report)


def test_xml_without_signature(check: Check) -> None:
    report = check(DOC)
    assert (report["indication"], report["subindication"]) == (
        "TOTAL_FAILED",
        "SIGNED_DATA_NOT_FOUND",
    )


def test_not_xml_nor_pdf(check: Check) -> None:
    report = check(b"\x89PNG\r\n")
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "format_unknown" in _codes(report)


class _UntypedSignedPropertiesSigner(XAdESSigner):
    """Signs correctly, but references SignedProperties without the XAdES Type."""

    def _add_reference_to_signed_info(self, sig_root: Any, node: Any, **attrs: Any) -> Any:
        attrs.pop("Type", None)
        return super()._add_reference_to_signed_info(sig_root, node, **attrs)


def test_signed_properties_need_the_xades_type(test_ca: SigningCa, check: Check) -> None:
    signer = _UntypedSignedPropertiesSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    signed = etree.tostring(
        signer.sign(etree.fromstring(DOC), key=test_ca.signer_key, cert=[test_ca.signer_cert])
    )
    report = check(signed)
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
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


def _sign_manifest(ca: SigningCa, correct: bool, uris: list[str]) -> bytes:
    signer = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    return etree.tostring(  # type: ignore[no-any-return]
        signer.sign(
            etree.fromstring(_manifest_doc(correct)),
            key=ca.signer_key,
            cert=[ca.signer_cert],
            reference_uri=uris,
        )
    )


@pytest.mark.parametrize("correct", [True, False])
def test_a_manifest_alone_is_not_coverage(test_ca: SigningCa, correct: bool, check: Check) -> None:
    """Even with every Manifest reference verifying, the signature signs no data object."""
    report = check(_sign_manifest(test_ca, correct, ["#man-1"]))
    sig = report["signatures"][0]
    assert (report["indication"], report["subindication"]) == (
        "INDETERMINATE",
        "SIGNED_DATA_NOT_FOUND",
    )
    assert "signed_data_not_found" in _codes(report)
    assert not sig["intact"]
    if correct:
        assert "manifest" in {s["kind"] for s in sig["scope"]}
    else:
        assert "manifest_reference_failed" in {w["code"] for w in sig["warnings"]}


def test_a_manifest_beside_signed_data_is_reported_in_scope(
    test_ca: SigningCa, check: Check
) -> None:
    report = check(_sign_manifest(test_ca, True, ["#man-1", "#res-1"]))
    sig = report["signatures"][0]
    assert report["indication"] == "TOTAL_PASSED", sig["errors"]
    assert {"manifest", "xml_element"} <= {s["kind"] for s in sig["scope"]}
