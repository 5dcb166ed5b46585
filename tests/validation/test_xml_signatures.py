"""XML signatures eLocal must not take at face value, through ``POST /validation``.

Nested signatures, base64-transformed references, signatures that offer many
certificates or Manifests with many references, and policy hashes that match the
wrong document. The trust store holds the test CA, so an honest signature passes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLSigner
from signxml.xades import XAdESSignaturePolicy, XAdESSigner

from signing.validation import PolicyStore
from signing.validation.limits import ValidationLimits
from signing.validation.xades import MAX_KEY_CANDIDATES
from tests.conftest import shared_path
from tests.validation.conftest import SigningCa
from tests.validation.test_xml_attacks import DOC, DS, Check, trusting

B64 = "http://www.w3.org/2000/09/xmldsig#base64"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
AGE_19 = "urn:oid:2.16.724.1.3.1.1.2.1.9"
AGE_18 = "urn:oid:2.16.724.1.3.1.1.2.1.8"


@pytest.fixture
def check(client: Any, ctx: Any, test_ca: SigningCa, monkeypatch: pytest.MonkeyPatch) -> Check:
    return trusting(client, ctx, test_ca, monkeypatch)


def _xades(ca: SigningCa, doc: bytes = DOC, uris: list[str] | None = None, **kw: Any) -> Any:
    signer = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        **kw,
    )
    return signer.sign(
        etree.fromstring(doc),
        key=ca.signer_key,
        cert=[ca.signer_cert],
        reference_uri=uris or ["#res-1"],
    )


def _codes(sig: dict[str, Any]) -> set[str]:
    return {e["code"] for e in sig["errors"]}


# --- every ds:Signature is validated --------------------------------------------------


def test_a_forged_signature_nested_in_an_object_fails_the_document(
    test_ca: SigningCa, check: Check
) -> None:
    root = _xades(test_ca)
    sig = root.find(f"{{{DS}}}Signature")
    forged = copy.deepcopy(sig)
    for el in forged.iter():
        for attr in [a for a in el.attrib if a in ("Id", "ID", "id")]:
            del el.attrib[attr]
    forged.find(f"{{{DS}}}SignatureValue").text = "AAAA"
    etree.SubElement(sig, f"{{{DS}}}Object").append(forged)
    report = check(etree.tostring(root))
    outer, inner = report["signatures"]
    assert outer["indication"] == "TOTAL_PASSED", outer["errors"]
    assert (inner["indication"], inner["subindication"]) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
    assert report["indication"] == "TOTAL_FAILED"


def test_a_genuine_nested_signature_is_reported_as_its_own_entry(
    test_ca: SigningCa, check: Check
) -> None:
    """An honestly signed document carried inside another signature's ds:Object.

    The inner document declares the ds and xades prefixes itself, so that moving it under
    the outer signature brings no new namespace into its (inclusive) canonical form.
    """
    inner_doc = DOC.replace(
        b'xmlns="urn:test"', f'xmlns="urn:test" xmlns:ds="{DS}" xmlns:xades="{XADES}"'.encode()
    )
    inner = _xades(test_ca, inner_doc)
    outer_doc = etree.fromstring(b'<Envio xmlns="urn:test"><Carta Id="c-1">Adjunto</Carta></Envio>')
    outer = _xades(test_ca, etree.tostring(outer_doc), ["#c-1"])
    etree.SubElement(outer.find(f"{{{DS}}}Signature"), f"{{{DS}}}Object").append(inner)
    report = check(etree.tostring(outer))
    assert [s["indication"] for s in report["signatures"]] == ["TOTAL_PASSED", "TOTAL_PASSED"], [
        s["errors"] for s in report["signatures"]
    ]
    assert report["indication"] == "TOTAL_PASSED"


# --- base64 transform ------------------------------------------------------------------


class _Base64Signer(XAdESSigner):
    """References ``#b64`` through the base64 transform (the digest of the decoded text)."""

    def _build_transforms_for_reference(
        self, *, transforms_node: Any, reference: Any, **kw: Any
    ) -> None:
        if reference.URI == "#b64":
            etree.SubElement(transforms_node, f"{{{DS}}}Transform", Algorithm=B64)
            return
        super()._build_transforms_for_reference(
            transforms_node=transforms_node, reference=reference, **kw
        )

    def _c14n(self, nodes: Any, algorithm: Any, inclusive_ns_prefixes: Any = None) -> bytes:
        if getattr(nodes, "get", None) and nodes.get("Id") == "b64":
            return base64.b64decode(nodes.text)
        c14n: bytes = super()._c14n(
            nodes, algorithm=algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes
        )
        return c14n


B64_DOC = (
    b'<Expediente xmlns="urn:test"><Anexo Id="b64">'
    + base64.b64encode(b"Conceder 100 EUR")
    + b"</Anexo></Expediente>"
)


@pytest.fixture
def base64_signed(test_ca: SigningCa) -> Any:
    signer = _Base64Signer(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    return signer.sign(
        etree.fromstring(B64_DOC),
        key=test_ca.signer_key,
        cert=[test_ca.signer_cert],
        reference_uri=["#b64"],
    )


def test_a_base64_reference_covers_its_element(check: Check, base64_signed: Any) -> None:
    report = check(etree.tostring(base64_signed))
    assert report["indication"] == "TOTAL_PASSED", report["signatures"][0]["errors"]


@pytest.mark.parametrize("added", ["element", "comment"])
def test_content_added_beside_base64_text_is_not_covered(
    check: Check, base64_signed: Any, added: str
) -> None:
    """Only the element's first text is digested: what follows it was never signed."""
    anexo = base64_signed.find("{urn:test}Anexo")
    if added == "element":
        extra = etree.SubElement(anexo, "{urn:test}Importe")
        extra.text = "900000 EUR"
    else:
        extra = etree.Comment("x")
        anexo.append(extra)
        extra.tail = "OTAwMDAwIEVVUg=="
    report = check(etree.tostring(base64_signed))
    (sig,) = report["signatures"]
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "unsupported_transform" in _codes(sig)
    assert not sig["intact"]


# --- limits ----------------------------------------------------------------------------


def _junk_certs(n: int) -> list[bytes]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Decoy {i}")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(i + 1)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        out.append(cert.public_bytes(Encoding.DER))
    return out


def _prepend_certs(sig_root: Any, certs: list[bytes]) -> None:
    x509_data = sig_root.find(f".//{{{DS}}}KeyInfo/{{{DS}}}X509Data")
    for der in reversed(certs):
        el = etree.Element(f"{{{DS}}}X509Certificate")
        el.text = base64.b64encode(der).decode()
        x509_data.insert(0, el)


class _DecoySigner(XAdESSigner):
    """Puts decoy certificates before the signer's in the (signed) KeyInfo."""

    decoys: list[bytes] = []

    def _add_key_info(self, sig_root: Any, signing_settings: Any) -> None:
        super()._add_key_info(sig_root, signing_settings)
        _prepend_certs(sig_root, self.decoys)


def test_the_signing_certificate_named_in_signed_properties_is_tried_first(
    test_ca: SigningCa, check: Check
) -> None:
    signer = _DecoySigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    signer.decoys = _junk_certs(MAX_KEY_CANDIDATES + 4)
    root = signer.sign(etree.fromstring(DOC), key=test_ca.signer_key, cert=[test_ca.signer_cert])
    report = check(etree.tostring(root))
    assert report["indication"] == "TOTAL_PASSED", report["signatures"][0]["errors"]


def test_candidate_certificates_are_capped(test_ca: SigningCa, check: Check) -> None:
    """Without SignedProperties nothing names the signer: past the cap eLocal stops trying."""
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    root = signer.sign(etree.fromstring(DOC), key=test_ca.signer_key, cert=[test_ca.signer_cert])
    _prepend_certs(root.find(f"{{{DS}}}Signature"), _junk_certs(MAX_KEY_CANDIDATES))
    report = check(etree.tostring(root))
    (sig,) = report["signatures"]
    assert (sig["indication"], sig["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "limit_exceeded" in _codes(sig)


def _with_manifest(references: int) -> bytes:
    root = etree.fromstring(DOC)
    target = root.find("{urn:test}Resolucion")
    digest = hashlib.sha256(etree.tostring(target, method="c14n", exclusive=True)).digest()
    manifest = etree.SubElement(root, f"{{{DS}}}Manifest", Id="man-1")
    for _ in range(references):
        ref = etree.SubElement(manifest, f"{{{DS}}}Reference", URI="#res-1")
        transforms = etree.SubElement(ref, f"{{{DS}}}Transforms")
        etree.SubElement(
            transforms, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"
        )
        etree.SubElement(ref, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
        etree.SubElement(ref, f"{{{DS}}}DigestValue").text = base64.b64encode(digest).decode()
    return etree.tostring(root)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("limit", "passes"), [(9, True), (8, False)])
def test_manifest_references_count_against_the_reference_limit(
    test_ca: SigningCa,
    check: Check,
    ctx: Any,
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
    passes: bool,
) -> None:
    """SignedInfo: data, Manifest, SignedProperties, KeyInfo (4); the Manifest: 5 more."""
    monkeypatch.setattr(ctx.validation, "limits", ValidationLimits(max_references=limit))
    data = etree.tostring(_xades(test_ca, _with_manifest(5), ["#res-1", "#man-1"]))
    report = check(data)
    (sig,) = report["signatures"]
    if passes:
        assert report["indication"] == "TOTAL_PASSED", sig["errors"]
    else:
        assert (sig["indication"], sig["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
        assert "limit_exceeded" in _codes(sig)


# --- signature policies ----------------------------------------------------------------


def _policy_signed(ca: SigningCa, identifier: str, document: bytes) -> bytes:
    policy = XAdESSignaturePolicy(
        Identifier=identifier,
        Description="",
        DigestMethod=DigestAlgorithm.SHA256,
        DigestValue=base64.b64encode(hashlib.sha256(document).digest()).decode(),
    )
    return etree.tostring(_xades(ca, signature_policy=policy))  # type: ignore[no-any-return]


@pytest.fixture
def with_policies(ctx: Any, policy_store: PolicyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx.validation, "policy_store", policy_store)


@pytest.mark.usefixtures("with_policies")
def test_a_policy_hash_of_another_stored_document_does_not_match(
    test_ca: SigningCa, check: Check
) -> None:
    """Naming AGE v1.9 while signing the hash of the (stored) Facturae policy."""
    facturae = shared_path(
        "corpus", "signatures", "xades", "policies", "dss1135-politica_de_firma.pdf"
    ).read_bytes()
    report = check(_policy_signed(test_ca, AGE_19, facturae))
    (sig,) = report["signatures"]
    assert sig["policy"]["known_policy"] == "AGE v1.9"
    assert sig["policy"]["hash_matches"] is False
    assert (sig["indication"], sig["subindication"]) == ("INDETERMINATE", "POLICY_PROCESSING_ERROR")
    assert "policy_hash_mismatch" in _codes(sig)


@pytest.mark.usefixtures("with_policies")
def test_the_age_policy_document_matches_its_own_identifier(
    test_ca: SigningCa, check: Check
) -> None:
    age = shared_path("corpus", "policies", "age-1.9.pdf").read_bytes()
    report = check(_policy_signed(test_ca, AGE_19, age))
    (sig,) = report["signatures"]
    assert (sig["policy"]["known_policy"], sig["policy"]["hash_matches"]) == ("AGE v1.9", True)
    assert "policy_hash_mismatch" not in _codes(sig)


@pytest.mark.usefixtures("with_policies")
def test_age_v1_8_is_recognised(test_ca: SigningCa, check: Check) -> None:
    """Known by identifier; its document is not in the store, so the hash stays unchecked."""
    report = check(_policy_signed(test_ca, AGE_18, b"AGE v1.8 policy text"))
    (sig,) = report["signatures"]
    assert sig["policy"]["known_policy"] == "AGE v1.8"
    assert sig["policy"]["hash_matches"] is None
    assert "policy_document_not_available" in {w["code"] for w in sig["warnings"]}
