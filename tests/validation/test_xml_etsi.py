"""The ETSI TS 119 102-2 report of ``POST /validation`` carries what the JSON report says.

Signer certificate, scope, timestamps and the policy-hash result must reach a client
that reads only the ETSI XML.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod
from signxml.xades import XAdESSignaturePolicy, XAdESSigner

from signing.validation import PolicyStore
from tests.conftest import shared_path
from tests.validation.conftest import SigningCa
from tests.validation.test_xml_attacks import DOC

VR = "http://uri.etsi.org/19102/v1.2.1#"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _q(name: str) -> str:
    return f"{{{VR}}}{name}"


def _etsi(client: Any, data: bytes) -> Any:
    r = client.post(
        "/validation",
        files={"document": ("doc.xml", data)},
        data={"offline": "true", "format": "etsi"},
    )
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content)


def _report_data(svr: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for typed in svr.iter(_q("ReportData")):
        out.setdefault(typed.findtext(_q("Type")), []).append(typed.findtext(_q("Value")) or "")
    return out


@pytest.fixture
def age_signed(test_ca: SigningCa) -> bytes:
    age = shared_path("corpus", "policies", "age-1.9.pdf").read_bytes()
    signer = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        signature_policy=XAdESSignaturePolicy(
            Identifier="urn:oid:2.16.724.1.3.1.1.2.1.9",
            Description="",
            DigestMethod=DigestAlgorithm.SHA256,
            DigestValue=base64.b64encode(hashlib.sha256(age).digest()).decode(),
        ),
    )
    root = signer.sign(
        etree.fromstring(DOC),
        key=test_ca.signer_key,
        cert=[test_ca.signer_cert],
        reference_uri=["#res-1"],
    )
    return etree.tostring(root)  # type: ignore[no-any-return]


def test_signer_scope_and_policy_reach_the_etsi_report(
    client: Any,
    ctx: Any,
    test_ca: SigningCa,
    policy_store: PolicyStore,
    monkeypatch: pytest.MonkeyPatch,
    age_signed: bytes,
) -> None:
    monkeypatch.setattr(ctx.validation, "trust_roots", lambda paths: (test_ca.root,))
    monkeypatch.setattr(ctx.validation, "policy_store", policy_store)
    root = _etsi(client, age_signed)
    svr = root.find(_q("SignatureValidationReport"))
    status = svr.find(_q("SignatureValidationStatus"))
    assert status.findtext(_q("MainIndication")).endswith("total-passed")

    ref = svr.find(f"{_q('SignerInformation')}/{_q('SignerCertificate')}").get("VOReference")
    (vo,) = [v for v in root.iter(_q("ValidationObject")) if v.get("id") == ref]
    assert vo.findtext(_q("ObjectType")) == "urn:etsi:019102:validationObject:certificate"
    digest = vo.findtext(f".//{{{DS}}}DigestValue")
    der = test_ca.signer_cert.public_bytes(Encoding.DER)
    assert base64.b64decode(digest) == hashlib.sha256(der).digest()

    data = _report_data(svr)
    assert data["urn:elocal:validation:scope:xml_element"] == ["#res-1 /Expediente/Resolucion[1]"]
    assert data["urn:elocal:validation:policy:hash-matches"] == ["true"]


def test_signature_timestamps_reach_the_etsi_report(client: Any) -> None:
    data = shared_path("corpus", "signatures", "xades", "Signature-X-BE_ECON-3.xml").read_bytes()
    svr = _etsi(client, data).find(_q("SignatureValidationReport"))
    (stamp,) = _report_data(svr)["urn:elocal:validation:timestamp:signature"]
    assert stamp.startswith("time=20") and "intact=true" in stamp
