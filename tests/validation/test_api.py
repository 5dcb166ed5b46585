"""``POST /validation`` and ``elocal validate``: outcomes are reports, not HTTP errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lxml import etree
from typer.testing import CliRunner

from api.cli import app as cli_app
from tests.conftest import shared_path
from tests.validation.conftest import SigningCa

VR = "{http://uri.etsi.org/19102/v1.2.1#}"


def _post(client: Any, data: bytes, **fields: str) -> Any:
    return client.post("/validation", files={"document": ("doc", data)}, data=fields)


def test_forgery_is_a_200_report(client: Any) -> None:
    r = _post(
        client,
        shared_path("corpus", "signatures", "pades", "siwa.pdf").read_bytes(),
        offline="true",
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["indication"], body["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert body["offline"] is True
    assert body["signatures"][0]["errors"][0]["code"] == "byte_range_gap_not_contents"


def test_etsi_report_is_ts_119_102_2_xml(client: Any) -> None:
    data = shared_path("corpus", "signatures", "xades", "dss-signed.xml").read_bytes()
    r = _post(client, data, format="etsi", offline="true")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(r.content)
    assert root.tag == f"{VR}ValidationReport"
    report = root.find(f"{VR}SignatureValidationReport")
    status = report.find(f"{VR}SignatureValidationStatus")
    assert status.findtext(f"{VR}MainIndication") == "urn:etsi:019102:mainindication:indeterminate"
    assert (
        status.findtext(f"{VR}SubIndication")
        == "urn:etsi:019102:subindication:NO_CERTIFICATE_CHAIN_FOUND"
    )
    order = [etree.QName(c).localname for c in report]
    assert order == [
        "SignatureIdentifier",
        "ValidationTimeInfo",
        "SignatureAttributes",
        "SignerInformation",
        "SignatureValidationProcess",
        "SignatureValidationStatus",
    ]


def test_point_in_time_validation(client: Any) -> None:
    data = shared_path("corpus", "signatures", "pades", "pdf-signed-original.pdf").read_bytes()
    body = _post(client, data, at="2020-01-01T00:00:00Z", offline="true").json()
    assert body["validation_time"].startswith("2020-01-01T00:00:00")


def test_municipality_trust_store_is_used(client: Any, ctx: Any, demo_code: str) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, _pdf_bytes(), "B-B")
    untrusted = _post(client, sealed, offline="true").json()
    assert (untrusted["indication"], untrusted["subindication"]) == (
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
    )
    assert untrusted["signatures"][0]["intact"] is True


def _pdf_bytes() -> bytes:
    from bench.samples import make_pdf

    return make_pdf(1)


def test_unusable_requests_are_problems(client: Any) -> None:
    r = client.post("/validation", data={"offline": "true"}, files={"other": ("x", b"x")})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "document"
    r = _post(client, b"%PDF-1.7", format="pdf")
    assert r.status_code == 422 and r.json()["field"] == "format"
    r = _post(client, b"%PDF-1.7", offline="maybe")
    assert r.status_code == 422 and r.json()["field"] == "offline"
    r = _post(client, b"%PDF-1.7", at="yesterday")
    assert r.status_code == 422 and r.json()["field"] == "at"
    r = _post(client, b"%PDF-1.7", municipality="L01999999")
    assert r.status_code in (404, 422)
    r = client.post("/validation", content=b"raw", headers={"content-type": "application/pdf"})
    assert r.status_code == 422


def test_too_large_document_is_413(client: Any, ctx: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(ctx.settings, "max_document_bytes", 1000)
    r = _post(client, b"%PDF-1.7\n" + b"0" * 2000)
    assert r.status_code == 413
    assert r.json()["code"] == "validation_document_too_large"


def test_cli_validate_exit_codes_and_formats(
    test_ca: SigningCa, sealed_pdf: bytes, tmp_path: Path
) -> None:
    runner = CliRunner()
    good = tmp_path / "sealed.pdf"
    good.write_bytes(sealed_pdf)
    ok = runner.invoke(
        cli_app, ["validate", str(good), "--offline", "--trust", str(test_ca.root_pem)]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["indication"] == "TOTAL_PASSED"
    untrusted = runner.invoke(cli_app, ["validate", str(good), "--offline"])
    assert untrusted.exit_code == 1
    broken = shared_path("corpus", "signatures", "pades", "pdf-signed-added-page.pdf")
    etsi = runner.invoke(cli_app, ["validate", str(broken), "--offline", "--format", "etsi"])
    assert etsi.exit_code == 1
    root = etree.fromstring(etsi.output.encode())
    assert root.findtext(f".//{VR}MainIndication") == "urn:etsi:019102:mainindication:total-failed"
    bad = runner.invoke(cli_app, ["validate", str(good), "--format", "yaml"])
    assert bad.exit_code == 2


def test_detached_xml_through_cli_and_http(test_ca: SigningCa, tmp_path: Path, client: Any) -> None:
    from signxml import DigestAlgorithm, SignatureConstructionMethod, SignatureMethod
    from signxml.xades import XAdESSigner

    content = b"<Factura><Importe>100</Importe></Factura>"
    signer = XAdESSigner(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
    )
    signature = etree.tostring(
        signer.sign(
            etree.fromstring(content),
            key=test_ca.signer_key,
            cert=[test_ca.signer_cert],
            reference_uri="factura.xml",
        )
    )
    (tmp_path / "sig.xml").write_bytes(signature)
    (tmp_path / "factura.xml").write_bytes(content)
    (tmp_path / "altered.xml").write_bytes(content.replace(b"100", b"900"))
    runner = CliRunner()
    base = ["validate", str(tmp_path / "sig.xml"), "--offline", "--trust", str(test_ca.root_pem)]
    ok = runner.invoke(cli_app, [*base, "--detached", str(tmp_path / "factura.xml")])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["signatures"][0]["scope"][0]["kind"] == "detached"
    altered = runner.invoke(cli_app, [*base, "--detached", str(tmp_path / "altered.xml")])
    assert altered.exit_code == 1 and json.loads(altered.output)["subindication"] == "HASH_FAILURE"
    missing = runner.invoke(cli_app, base)
    assert (
        missing.exit_code == 1
        and json.loads(missing.output)["subindication"] == "SIGNED_DATA_NOT_FOUND"
    )
    r = client.post(
        "/validation",
        files={"document": ("sig.xml", signature), "detached": ("f.xml", content)},
        data={"offline": "true"},
    )
    assert r.status_code == 200
    assert r.json()["signatures"][0]["intact"] is True
    assert (
        r.json()["subindication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    )  # the API trusts only municipal stores
