"""Extension over HTTP: only an intact eLocal seal is raised, and it then validates at
the level it was raised to."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from bench.samples import make_pdf, make_xml
from tests.signing.test_api import _assert_problem, _encrypted_pdf


def _extend(client: Any, document: bytes, level: str, filename: str = "s.pdf",
            **fields: str) -> Any:
    from api.demo import DEMO_CODE

    return client.post("/signing/extend",
                       data={"municipality": DEMO_CODE, "level": level, **fields},
                       files={"document": (filename, document)})


def _validate(live: Any, data: bytes, code: str, name: str, *, offline: bool) -> dict[str, Any]:
    with live.client() as http:
        r = http.post("/validation", files={"document": (name, data)},
                      data={"municipality": code, "offline": str(offline).lower()})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _tamper_revision(pdf: bytes) -> bytes:
    """Change the signed bytes in place (a page's text), keeping the file parseable."""
    marker = b"(eLocal - page 1)"
    at = pdf.index(marker)
    return pdf[:at] + b"(eLocal - page 9)" + pdf[at + len(marker):]


def test_extend_b_b_to_b_lt_validates_offline(live: Any, registrar: Any, ctx: Any,
                                              demo_code: str) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B")
    res = _extend(registrar, sealed, "B-LT")
    assert res.status_code == 200, res.text
    report = _validate(live, res.content, demo_code, "extended.pdf", offline=True)
    assert report["indication"] == "TOTAL_PASSED", [s["errors"] for s in report["signatures"]]
    (sig,) = report["signatures"]
    assert (sig["format"], sig["level"], sig["indication"]) == ("PAdES", "B-LT", "TOTAL_PASSED")


def test_tampered_pdf_is_not_extended(registrar: Any, ctx: Any, demo_code: str) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B")
    tampered = _tamper_revision(sealed)
    assert PdfFileReader(io.BytesIO(tampered)).embedded_signatures
    for level in ("B-T", "B-LT", "B-LTA"):
        _assert_problem(_extend(registrar, tampered, level), 422, "signature_not_intact")


def test_pdf_changed_after_the_seal_is_not_extended(registrar: Any, ctx: Any,
                                                    demo_code: str) -> None:
    """An incremental update that rewrites the page after the seal: the seal's own bytes
    are intact, but extending it would lend fresh timestamps to the forged content."""
    from pyhanko.pdf_utils import generic

    sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B")
    w = IncrementalPdfFileWriter(io.BytesIO(sealed), strict=False)
    page_ref = w.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    forged = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (Forged) Tj ET")
    page["/Contents"] = w.add_object(forged)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    _assert_problem(_extend(registrar, out.getvalue(), "B-LT"), 422, "signature_not_intact")


def test_form_values_changed_after_the_seal_are_not_extended(registrar: Any, ctx: Any,
                                                             demo_code: str) -> None:
    """pyHanko's diff policy calls this form filling; eLocal allows none after a seal."""
    from pyhanko.pdf_utils import generic

    from tests.validation.conftest import _pdf

    sealed = ctx.sealer.seal_pdf(demo_code, _pdf(with_text_field=True), "B-B")
    assert _extend(registrar, sealed, "B-T").status_code == 200
    w = IncrementalPdfFileWriter(io.BytesIO(sealed), strict=False)
    field = w.root["/AcroForm"]["/Fields"][0].get_object()
    field[generic.pdf_name("/V")] = generic.TextStringObject("900000 EUR")
    w.update_container(field)
    out = io.BytesIO()
    w.write(out)
    _assert_problem(_extend(registrar, out.getvalue(), "B-T"), 422, "signature_not_intact")


def test_xml_extension_to_a_level_it_has_is_refused(registrar: Any, ctx: Any,
                                                    demo_code: str) -> None:
    sealed = ctx.sealer.seal_xml(demo_code, make_xml(2048), "B-T")
    _assert_problem(_extend(registrar, sealed, "B-T", "s.xml", format="xades"), 422,
                    "not_an_elocal_signature")


def test_tampered_xml_is_not_extended(registrar: Any, ctx: Any, demo_code: str) -> None:
    sealed = ctx.sealer.seal_xml(demo_code, make_xml(2048), "B-B")
    tampered = sealed.replace(b"<Asunto>", b"<Asunto>X", 1)
    assert tampered != sealed
    _assert_problem(_extend(registrar, tampered, "B-T", "s.xml", format="xades"), 422,
                    "signature_not_intact")


@pytest.mark.parametrize(("document", "filename", "fields", "status", "code"), [
    (None, "s.pdf", {"level": "B-XL"}, 422, "unknown_signature_level"),
    (b"plainly not a PDF", "s.pdf", {}, 422, "not_a_pdf"),
    ("encrypted", "s.pdf", {}, 422, "encrypted_pdf"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>', "s.xml",
     {"format": "xades"}, 422, "xml_dtd_forbidden"),
])
def test_bad_extension_requests(registrar: Any, ctx: Any, demo_code: str,
                                document: bytes | str | None, filename: str,
                                fields: dict[str, str], status: int, code: str) -> None:
    if document is None:
        document = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B")
    elif document == "encrypted":
        document = _encrypted_pdf()
    assert isinstance(document, bytes)
    level = fields.pop("level", "B-LT")
    _assert_problem(_extend(registrar, document, level, filename, **fields), status, code)
