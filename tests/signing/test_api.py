"""The signing API: successful seals, and every bad input answered with problem+json."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer

from api.context import Context
from bench.samples import make_pdf
from signing import SigningLimits
from tests.conftest import require_tool

PROBLEM = "application/problem+json"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<lolz>&lol9;</lolz>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""


def _seal(client, document: bytes, filename: str = "doc.pdf", **fields: str):
    data = {"municipality": fields.pop("municipality", None) or _demo(), **fields}
    return client.post("/signing/seal", data=data, files={"document": (filename, document)})


def _demo() -> str:
    from api.demo import DEMO_CODE

    return DEMO_CODE


def _assert_problem(res, status: int, code: str) -> None:
    assert res.status_code == status, res.text
    assert res.headers["content-type"] == PROBLEM
    body = res.json()
    assert body["code"] == code and body["status"] == status
    assert b"%PDF" not in res.content and b"Signature" not in res.content


def test_seal_pdf_and_xml_over_http(registrar, demo_code: str, one_page_pdf: bytes,
                                    small_xml: bytes) -> None:
    res = _seal(registrar, one_page_pdf, level="B-B", stamp="true", verification_code="ABC-123",
                certify="true")
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "application/pdf"
    sig = PdfFileReader(io.BytesIO(res.content)).embedded_signatures[0]
    assert sig.docmdp_level is not None and "/AP" in sig.sig_field

    res = _seal(registrar, small_xml, "doc.xml", format="xades", level="B-B",
                packaging="enveloping", age_policy="true")
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "application/xml"
    assert b"urn:oid:2.16.724.1.3.1.1.2.1.9" in res.content


def _encrypted_pdf() -> bytes:
    w = copy_into_new_writer(PdfFileReader(io.BytesIO(make_pdf(1))))
    w.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("document", "fields", "status", "code"), [
    (b"this is plainly not a PDF", {}, 422, "not_a_pdf"),
    (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF", {}, 422,
     "not_a_pdf"),
    (None, {"level": "B-XL"}, 422, "unknown_signature_level"),
    (None, {"format": "cades"}, 422, "unsupported_signature_option"),
    (None, {"certify": "perhaps"}, 422, "invalid_input"),
    # Nobody is a registrar of a municipality that does not exist.
    (None, {"municipality": "L01999999"}, 403, "sealing_not_authorized"),
])
def test_bad_pdf_requests(registrar, one_page_pdf: bytes, document: bytes | None,
                          fields: dict[str, str], status: int, code: str) -> None:
    _assert_problem(_seal(registrar, document or one_page_pdf, **fields), status, code)


def test_encrypted_pdf_is_refused(registrar) -> None:
    _assert_problem(_seal(registrar, _encrypted_pdf()), 422, "encrypted_pdf")


@pytest.mark.parametrize(("document", "status", "code"), [
    (BILLION_LAUGHS, 422, "xml_dtd_forbidden"),
    (XXE, 422, "xml_dtd_forbidden"),
    (b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r/>', 422,
     "xml_dtd_forbidden"),
    (b"<r><unclosed></r>", 422, "xml_rejected"),
    (b"<a>" * 100 + b"</a>" * 100, 413, "xml_too_large"),
])
def test_bad_xml_requests(registrar, document: bytes, status: int, code: str) -> None:
    _assert_problem(_seal(registrar, document, "doc.xml", format="xades"), status, code)


def test_unknown_packaging_is_refused(registrar, small_xml: bytes) -> None:
    _assert_problem(_seal(registrar, small_xml, "d.xml", format="xades", packaging="wrapped"),
                    422, "unsupported_signature_option")


def test_oversize_documents_are_refused(registrar, ctx: Context, monkeypatch: pytest.MonkeyPatch,
                                        one_page_pdf: bytes, small_xml: bytes) -> None:
    limit = len(one_page_pdf) - 1
    monkeypatch.setattr(ctx.settings, "max_document_bytes", limit)
    monkeypatch.setattr(ctx.sealer, "limits", SigningLimits(max_document_bytes=limit))
    _assert_problem(_seal(registrar, one_page_pdf), 413, "document_too_large")
    _assert_problem(_seal(registrar, small_xml, "d.xml", format="xades"), 413,
                    "document_too_large")
    # Far beyond the limit: refused from Content-Length before the body is parsed.
    _assert_problem(_seal(registrar, b"%PDF-" + b"\0" * (limit + 200_000)), 413,
                    "document_too_large")


def test_too_many_revisions_are_refused(registrar, ctx: Context, demo_code: str,
                                        monkeypatch: pytest.MonkeyPatch,
                                        one_page_pdf: bytes) -> None:
    twice = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B")
    assert twice is not None
    monkeypatch.setattr(ctx.sealer, "limits", SigningLimits(max_pdf_revisions=1))
    _assert_problem(_seal(registrar, twice), 422, "too_many_pdf_revisions")


def test_missing_document_field(registrar, demo_code: str) -> None:
    res = registrar.post("/signing/seal", data={"municipality": demo_code})
    _assert_problem(res, 422, "invalid_input")


def test_sample_pdfs_are_readable_by_poppler(tmp_path: Path) -> None:
    # The sample generator must produce PDFs poppler reads, or the other tests prove nothing.
    path = tmp_path / "s.pdf"
    path.write_bytes(make_pdf(2))
    out = subprocess.run([require_tool("pdfinfo"), str(path)], capture_output=True, text=True)
    assert re.search(r"Pages:\s+2\n", out.stdout)
