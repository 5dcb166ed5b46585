"""Client mistakes on POST /signing/seal are 4xx problems with stable codes, not 500s."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm

from bench.samples import make_pdf
from tests.signing.test_api import _assert_problem, _seal


def test_certifying_an_already_signed_pdf_is_refused(registrar: Any, ctx: Any,
                                                     demo_code: str) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B")
    _assert_problem(_seal(registrar, sealed, certify="true"), 422, "certification_not_allowed")
    # Sealing it again without certifying is fine.
    assert _seal(registrar, sealed).status_code == 200


def test_a_visible_stamp_on_a_signed_pdf_is_refused_an_invisible_seal_is_not(
        registrar: Any, client: Any, ctx: Any, demo_code: str) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B")
    _assert_problem(_seal(registrar, sealed, stamp="true"), 422, "stamp_on_signed_document")
    second = _seal(registrar, sealed)
    assert second.status_code == 200, second.text
    report = client.post("/validation", files={"document": ("twice.pdf", second.content)},
                         data={"municipality": demo_code}).json()
    assert [s["indication"] for s in report["signatures"]] == ["TOTAL_PASSED"] * 2


def test_sealing_a_pdf_certified_with_no_changes_is_refused(registrar: Any) -> None:
    res = _seal(registrar, make_pdf(1), certify="true", docmdp="1")
    assert res.status_code == 200, res.text
    sig = PdfFileReader(io.BytesIO(res.content)).embedded_signatures[0]
    assert sig.docmdp_level is MDPPerm.NO_CHANGES
    _assert_problem(_seal(registrar, res.content), 422, "document_locked_by_certification")


@pytest.mark.parametrize(("value", "perm"), [("2", MDPPerm.FILL_FORMS),
                                             ("3", MDPPerm.ANNOTATE)])
def test_certification_permission_is_chosen_by_the_caller(registrar: Any, value: str,
                                                          perm: MDPPerm) -> None:
    res = _seal(registrar, make_pdf(1), certify="true", docmdp=value)
    assert res.status_code == 200, res.text
    assert PdfFileReader(io.BytesIO(res.content)).embedded_signatures[0].docmdp_level is perm


def test_unknown_certification_permission_is_refused(registrar: Any) -> None:
    _assert_problem(_seal(registrar, make_pdf(1), certify="true", docmdp="4"), 422,
                    "unsupported_signature_option")


def test_pdfa_stamp_without_its_font_is_refused(registrar: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from signing import pades

    monkeypatch.setattr(pades, "STAMP_FONT_CANDIDATES", ("/nonexistent/DejaVuSans.ttf",))
    _assert_problem(_seal(registrar, make_pdf(1, pdfa=True), stamp="true"), 503,
                    "stamp_font_unavailable")
    # Without a stamp there is no font to embed, and the seal goes ahead.
    assert _seal(registrar, make_pdf(1, pdfa=True)).status_code == 200
