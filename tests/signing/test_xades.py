"""XAdES seals (B-B/EPES, B-T, B-LT) checked with xmlsec1, openssl, signxml and certvalidator."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from lxml import etree
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from signxml.exceptions import InvalidDigest
from signxml.xades import XAdESVerifier

from api.context import Context
from signing import AGE_1_9
from signing.keys import to_asn1
from tests.conftest import require_tool, shared_path
from tests.logins import login_demo_person
from tests.signing.conftest import openssl_ts_verify

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
NS = {"ds": DS, "xades": XADES}
ID_ATTRS = [f"--id-attr:Id {XADES}:SignedProperties", f"--id-attr:Id {DS}:KeyInfo",
            f"--id-attr:Id {DS}:Object", "--id-attr:Id Content"]


def xmlsec_verify(path: Path, ctx: Context, cwd: Path | None = None
                  ) -> subprocess.CompletedProcess[str]:
    tool = require_tool("xmlsec1")
    args = [tool, "--verify", "--trusted-pem", str(ctx.pki.root_path),
            "--untrusted-pem", str(ctx.pki.dir / "issuing.pem")]
    for spec in ID_ATTRS:
        args += spec.split(" ", 1)
    if cwd is not None:
        args += ["--enabled-reference-uris", "empty,same-doc,local,remote"]
    args.append(str(path))
    return subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=cwd)


def _signature(doc: bytes) -> etree._Element:
    root = etree.fromstring(doc)
    return root if root.tag == f"{{{DS}}}Signature" else root.find(f".//{{{DS}}}Signature")


@pytest.mark.parametrize("packaging", ["enveloped", "enveloping", "internally-detached"])
@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT"])
def test_xmlsec1_and_signxml_accept_the_seal(live, ctx: Context, demo_code: str,
                                             small_xml: bytes, tmp_path: Path,
                                             packaging: str, level: str) -> None:
    signed = ctx.sealer.seal_xml(demo_code, small_xml, level, packaging=packaging)
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    res = xmlsec_verify(path, ctx)
    assert res.returncode == 0 and "OK" in res.stdout + res.stderr, res.stdout + res.stderr

    verified = XAdESVerifier().verify(signed, ca_pem_file=str(ctx.pki.root_path),
                                      expect_references=3)
    payloads = [r for r in verified if (r.signed_xml is not None
                and r.signed_xml.tag == "{urn:elocal:ejemplo}Registro")
                or (r.signed_xml is not None and r.signed_xml.find(
                    "{urn:elocal:ejemplo}Registro") is not None)]
    assert payloads, "the document itself must be among the verified references"

    usp = _signature(signed).find(".//xades:UnsignedSignatureProperties", NS)
    present = set() if usp is None else {etree.QName(el).localname for el in usp}
    expected = {"B-B": set(), "B-T": {"SignatureTimeStamp"},
                "B-LT": {"SignatureTimeStamp", "CertificateValues", "RevocationValues"}}[level]
    assert present == expected


@pytest.mark.parametrize("packaging", ["enveloped", "enveloping"])
def test_xmlsec1_accepts_the_age_policy_seal(live, ctx: Context, demo_code: str,
                                            small_xml: bytes, tmp_path: Path,
                                            packaging: str) -> None:
    signed = ctx.sealer.seal_xml(demo_code, small_xml, "B-T", packaging=packaging,
                                 age_policy=True)
    assert b"urn:oid:2.16.724.1.3.1.1.2.1.9" in signed
    path = tmp_path / "epes.xml"
    path.write_bytes(signed)
    res = xmlsec_verify(path, ctx)
    assert res.returncode == 0 and "OK" in res.stdout + res.stderr, res.stdout + res.stderr


def test_detached_signature_verifies_next_to_its_document(ctx: Context, demo_code: str,
                                                          small_xml: bytes,
                                                          tmp_path: Path) -> None:
    signature = ctx.sealer.seal_xml(demo_code, small_xml, "B-B", packaging="detached",
                                    document_uri="registro.xml")
    (tmp_path / "registro.xml").write_bytes(small_xml)
    sig_path = tmp_path / "registro.xsig"
    sig_path.write_bytes(signature)
    res = xmlsec_verify(sig_path, ctx, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    (tmp_path / "registro.xml").write_bytes(small_xml.replace(b"licencia", b"LICENCIA", 1))
    assert xmlsec_verify(sig_path, ctx, cwd=tmp_path).returncode != 0


def test_signature_timestamp_covers_the_canonical_signature_value(live, ctx: Context,
                                                                  demo_code: str,
                                                                  small_xml: bytes,
                                                                  tmp_path: Path) -> None:
    signed = ctx.sealer.seal_xml(demo_code, small_xml, "B-T")
    sig = _signature(signed)
    sts = sig.find(".//xades:SignatureTimeStamp", NS)
    assert sts.find("ds:CanonicalizationMethod", NS).get("Algorithm") == \
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    token = base64.b64decode(sts.find("xades:EncapsulatedTimeStamp", NS).text)
    value = sig.find("ds:SignatureValue", NS)
    digest = hashlib.sha256(etree.tostring(value, method="c14n", exclusive=True)).digest()
    tok = tmp_path / "sig.tst"
    tok.write_bytes(token)
    res = openssl_ts_verify(tok, ctx=ctx, digest=digest, token_in=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_b_lt_values_suffice_to_validate_offline(live, ctx: Context, demo_code: str,
                                                 small_xml: bytes) -> None:
    signed = ctx.sealer.seal_xml(demo_code, small_xml, "B-LT")
    usp = _signature(signed).find(".//xades:UnsignedSignatureProperties", NS)
    certs = [asn1_x509.Certificate.load(base64.b64decode(e.text))
             for e in usp.iterfind("xades:CertificateValues/xades:EncapsulatedX509Certificate",
                                   NS)]
    ocsps = [asn1_ocsp.OCSPResponse.load(base64.b64decode(e.text))
             for e in usp.iterfind(".//xades:EncapsulatedOCSPValue", NS)]
    crls = [asn1_crl.CertificateList.load(base64.b64decode(e.text))
            for e in usp.iterfind(".//xades:EncapsulatedCRLValue", NS)]
    names = {c.subject.human_friendly for c in certs}
    assert any("TSA" in n for n in names) and any("VILLADEMO" in n.upper() for n in names)
    assert ocsps

    vc = ValidationContext(trust_roots=[to_asn1(ctx.pki.root)], other_certs=certs,
                           ocsps=ocsps, crls=crls, allow_fetching=False,
                           revocation_mode="hard-fail")
    seal = ctx.sealer.key(demo_code)
    validator = CertificateValidator(seal.asn1_certificate, validation_context=vc)
    path = asyncio.run(validator.async_validate_usage({"non_repudiation"}))
    assert path.leaf.dump() == seal.asn1_certificate.dump()


def test_age_policy_epes_properties(ctx: Context, demo_code: str, small_xml: bytes) -> None:
    published = shared_path("corpus", "policies", "age-1.9.pdf").read_bytes()
    signed = ctx.sealer.seal_xml(demo_code, small_xml, "B-B", packaging="internally-detached",
                                 age_policy=True)
    ssp = _signature(signed).find(".//xades:SignedSignatureProperties", NS)
    assert ssp.find("xades:SigningTime", NS) is not None
    assert ssp.find("xades:SigningCertificateV2", NS) is not None
    spid = ssp.find("xades:SignaturePolicyIdentifier/xades:SignaturePolicyId", NS)
    assert spid.findtext("xades:SigPolicyId/xades:Identifier", namespaces=NS) == \
        "urn:oid:2.16.724.1.3.1.1.2.1.9"
    assert spid.find("xades:SigPolicyHash/ds:DigestMethod", NS).get("Algorithm") == \
        "http://www.w3.org/2000/09/xmldsig#sha1"
    assert base64.b64decode(spid.findtext("xades:SigPolicyHash/ds:DigestValue",
                                          namespaces=NS)) == \
        hashlib.sha1(published).digest()  # noqa: S324 - the policy is identified by SHA-1
    assert spid.findtext(".//xades:SPURI", namespaces=NS) == AGE_1_9.spuri
    dof = _signature(signed).find(".//xades:DataObjectFormat", NS)
    assert dof.findtext("xades:MimeType", namespaces=NS) == "text/xml"
    ref_id = dof.get("ObjectReference").lstrip("#")
    ref = _signature(signed).find(f"ds:SignedInfo/ds:Reference[@Id='{ref_id}']", NS)
    assert ref is not None and ref.get("URI").startswith("#Content-")


def test_tampered_xml_fails_verification(ctx: Context, demo_code: str, small_xml: bytes,
                                         tmp_path: Path) -> None:
    signed = ctx.sealer.seal_xml(demo_code, small_xml, "B-B")
    tampered = signed.replace(b"licencia", b"licenciA", 1)
    assert tampered != signed
    path = tmp_path / "t.xml"
    path.write_bytes(tampered)
    assert xmlsec_verify(path, ctx).returncode != 0
    with pytest.raises(InvalidDigest):
        XAdESVerifier().verify(tampered, ca_pem_file=str(ctx.pki.root_path), expect_references=3)


def test_extend_xml_b_b_to_b_lt_over_http(live, ctx: Context, demo_code: str, small_xml: bytes,
                                          tmp_path: Path) -> None:
    signed = ctx.sealer.seal_xml(demo_code, small_xml, "B-B")
    with live.client() as http:
        login_demo_person(http, ctx, "employee", demo_code)
        res = http.post("/signing/extend",
                        data={"municipality": demo_code, "level": "B-LT", "format": "xades"},
                        files={"document": ("s.xml", signed, "application/xml")})
    assert res.status_code == 200, res.text
    usp = _signature(res.content).find(".//xades:UnsignedSignatureProperties", NS)
    assert {etree.QName(e).localname for e in usp} == {
        "SignatureTimeStamp", "CertificateValues", "RevocationValues"}
    path = tmp_path / "e.xml"
    path.write_bytes(res.content)
    assert xmlsec_verify(path, ctx).returncode == 0
