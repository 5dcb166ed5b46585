"""A dependency that is down gives a 503 with a stable code and no weaker document."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from asn1crypto import ocsp
from lxml import etree

from bench.samples import make_pdf, make_xml
from tests.conftest import free_port
from tests.signing.test_api import _assert_problem, _seal

XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"


def _break_tsa(ctx: Any, code: str) -> None:
    from infra.tenancy import get_municipality

    with ctx.transaction() as s:
        get_municipality(s, code).tsa_url = f"http://127.0.0.1:{free_port()}/tsa"


def test_xades_b_t_with_the_tsa_down_is_503(registrar: Any, ctx: Any, demo_code: str) -> None:
    _break_tsa(ctx, demo_code)
    for level in ("B-T", "B-LT"):
        res = _seal(registrar, make_xml(1024), "d.xml", format="xades", level=level)
        _assert_problem(res, 503, "tsa_unavailable")


def test_xades_b_lta_is_refused(registrar: Any) -> None:
    _assert_problem(_seal(registrar, make_xml(1024), "d.xml", format="xades", level="B-LTA"),
                    422, "unsupported_signature_option")


def test_b_lt_certificate_values_include_ocsp_responders(live: Any, ctx: Any,
                                                         demo_code: str) -> None:
    signed = etree.fromstring(ctx.sealer.seal_xml(demo_code, make_xml(1024), "B-LT"))
    values = {base64.b64decode(e.text or "") for e in
              signed.iter(f"{{{XADES_NS}}}EncapsulatedX509Certificate")}
    responses = [ocsp.OCSPResponse.load(base64.b64decode(e.text or "")) for e in
                 signed.iter(f"{{{XADES_NS}}}EncapsulatedOCSPValue")]
    responders = [c for r in responses for c in r["response_bytes"]["response"].parsed["certs"]]
    assert responders
    assert all(c.dump() in values for c in responders)


def _no_revocation_sources(ctx: Any, monkeypatch: Any) -> None:
    """As if every OCSP responder and CRL server named in the certificates were down."""
    from pyhanko_certvalidator import ValidationContext

    from signing.keys import to_asn1

    def offline(seal: Any) -> ValidationContext:
        return ValidationContext(trust_roots=[to_asn1(c) for c in seal.roots],
                                 other_certs=list(seal.asn1_chain), allow_fetching=False,
                                 crls=[], ocsps=[], revocation_mode="hard-fail")

    monkeypatch.setattr(ctx.sealer, "validation_context", offline)


@pytest.mark.parametrize(("document", "filename", "fmt"), [
    (make_pdf(1), "d.pdf", "pades"), (make_xml(1024), "d.xml", "xades")])
def test_b_lt_without_revocation_data_is_503(registrar: Any, ctx: Any, monkeypatch: Any,
                                             document: bytes, filename: str, fmt: str) -> None:
    _no_revocation_sources(ctx, monkeypatch)
    res = _seal(registrar, document, filename, format=fmt, level="B-LT")
    _assert_problem(res, 503, "revocation_unavailable")
    # B-T needs no revocation data and still works.
    assert _seal(registrar, document, filename, format=fmt, level="B-T").status_code == 200


def test_a_municipalitys_tsa_is_only_for_its_sealers(live: Any, registrar: Any,
                                                     demo_code: str) -> None:
    doc = {"document": ("a.txt", b"acta")}
    with live.client() as anonymous:
        # eLocal's own TSA is public ...
        assert anonymous.post("/signing/timestamp", files=doc).status_code == 200
        # ... a municipality's (possibly paid-for) TSA is not.
        res = anonymous.post("/signing/timestamp", data={"municipality": demo_code}, files=doc)
        _assert_problem(res, 401, "unauthenticated")
    res = registrar.post("/signing/timestamp", data={"municipality": demo_code}, files=doc)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "application/timestamp-reply"
