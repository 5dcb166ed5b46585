"""Attacks on our own sealed PDFs, and the changes that must stay allowed.

Every attack is an incremental update (or a byte edit) that a PDF viewer would
happily display; each is sent to ``POST /validation`` as a user would, with a
municipality that trusts the sealing CA, and must come out TOTAL_FAILED or
INDETERMINATE with the right subindication and a stable code saying what changed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from signing.validation import ValidationLimits
from tests.conftest import require_tool
from tests.validation.conftest import SigningCa, sign_pdf, validation_poster

Check = Callable[..., dict[str, Any]]


@pytest.fixture
def check(client: Any, ctx: Any, demo_code: str, test_ca: SigningCa) -> Check:
    return validation_poster(client, ctx, demo_code, test_ca.root_pem)


def _codes(report: dict[str, Any]) -> set[str]:
    return {e["code"] for s in report["signatures"] for e in s["errors"]} | {
        e["code"] for e in report["errors"]
    }


def _verdict(report: dict[str, Any]) -> tuple[str, str | None]:
    return report["indication"], report["subindication"]


def _warnings(sig: dict[str, Any]) -> set[str]:
    return {w["code"] for w in sig["warnings"]}


def _update(data: bytes, change: Any) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    change(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _first_page(w: IncrementalPdfFileWriter) -> Any:
    return w.root["/Pages"]["/Kids"][0]


def test_untouched_seal_passes_offline_with_identity_and_scope(
    check: Check, sealed_pdf: bytes
) -> None:
    report = check(sealed_pdf)
    assert report["indication"] == "TOTAL_PASSED"
    (sig,) = report["signatures"]
    assert sig["intact"] and sig["level"] == "B-B" and sig["format"] == "PAdES"
    assert "Validation Test Signer" in sig["signer"]["subject"]
    assert sig["scope"][0]["kind"] == "pdf_revision"
    assert sig["scope"][0]["name"] == "revision 2 of 2"
    assert sig["claimed_signing_time"] is not None


def test_untrusted_signer_is_indeterminate_not_failed(check: Check, sealed_pdf: bytes) -> None:
    report = check(sealed_pdf, municipality="")  # no trust store at all
    assert _verdict(report) == (
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
    )
    assert report["signatures"][0]["intact"]


def test_changed_page_content_fails(check: Check, sealed_pdf: bytes) -> None:
    def change(w: IncrementalPdfFileWriter) -> None:
        page = _first_page(w).get_object()
        stream = page["/Contents"].get_object()
        stream._data = b"BT /F1 18 Tf 72 720 Td (Resolucion 43/2026 p1) Tj ET"
        stream._encoded_data = None
        w.update_container(stream)

    require_tool("pdftotext")  # the independent rendering check (poppler)
    report = check(_update(sealed_pdf, change))
    assert _verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert {"page_content_changed", "page_text_changed"} <= _codes(report)
    assert not report["signatures"][0]["intact"]


def test_appended_page_fails(check: Check, sealed_pdf: bytes) -> None:
    def change(w: IncrementalPdfFileWriter) -> None:
        w.insert_page(
            generic.DictionaryObject(
                {
                    generic.pdf_name("/Type"): generic.pdf_name("/Page"),
                    generic.pdf_name("/MediaBox"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                    ),
                    generic.pdf_name("/Contents"): w.add_object(
                        generic.StreamObject(stream_data=b"BT ET")
                    ),
                }
            )
        )

    report = check(_update(sealed_pdf, change))
    assert _verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "pages_added" in _codes(report)


def test_overlay_annotation_fails(check: Check, sealed_pdf: bytes) -> None:
    def change(w: IncrementalPdfFileWriter) -> None:
        page_ref = _first_page(w)
        page = page_ref.get_object()
        ap = generic.StreamObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Form"),
                generic.pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 300, 40)]
                ),
            },
            stream_data=b"1 1 1 rg 0 0 300 40 re f",
        )
        annot = w.add_object(
            generic.DictionaryObject(
                {
                    generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
                    generic.pdf_name("/Subtype"): generic.pdf_name("/Square"),
                    generic.pdf_name("/Rect"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (70, 710, 370, 750)]
                    ),
                    generic.pdf_name("/AP"): generic.DictionaryObject(
                        {generic.pdf_name("/N"): w.add_object(ap)}
                    ),
                    generic.pdf_name("/P"): page_ref,
                }
            )
        )
        annots = page.get("/Annots", generic.ArrayObject())
        page[generic.pdf_name("/Annots")] = generic.ArrayObject([*annots, annot])
        w.update_container(page)

    report = check(_update(sealed_pdf, change))
    assert _verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "annotation_added" in _codes(report)


def test_moved_byte_range_fails(check: Check, sealed_pdf: bytes) -> None:
    """Signature wrapping: the byte range no longer frames exactly the /Contents string."""
    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", sealed_pdf)
    assert m is not None
    a, b, c = (int(x) for x in m.groups())
    moved = f"/ByteRange [0 {a - 10} {b} {c}]".encode()
    original = m.group(0)
    moved = moved.ljust(len(original))
    forged = sealed_pdf[: m.start()] + moved + sealed_pdf[m.end() :]
    report = check(forged)
    assert _verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "byte_range_gap_not_contents" in _codes(report)


def test_byte_range_must_cover_to_the_end_of_a_revision(check: Check, sealed_pdf: bytes) -> None:
    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", sealed_pdf)
    assert m is not None
    a, b, c = (int(x) for x in m.groups())
    shorter = f"/ByteRange [0 {a} {b} {c - 20}]".encode().ljust(len(m.group(0)))
    report = check(sealed_pdf[: m.start()] + shorter + sealed_pdf[m.end() :])
    assert report["indication"] == "TOTAL_FAILED"
    assert report["subindication"] in ("FORMAT_FAILURE", "HASH_FAILURE")


def test_form_filling_after_an_approval_signature_fails(
    check: Check, test_ca: SigningCa, form_pdf: bytes
) -> None:
    signed = sign_pdf(test_ca, form_pdf)
    assert check(signed)["indication"] == "TOTAL_PASSED"

    def change(w: IncrementalPdfFileWriter) -> None:
        field = w.root["/AcroForm"]["/Fields"][0].get_object()
        field[generic.pdf_name("/V")] = generic.TextStringObject("900000 EUR")
        w.update_container(field)

    report = check(_update(signed, change))
    assert _verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "form_filled_after_signature" in _codes(report)


def test_catalog_open_action_added_after_signing_fails(check: Check, sealed_pdf: bytes) -> None:
    def change(w: IncrementalPdfFileWriter) -> None:
        w.root[generic.pdf_name("/OpenAction")] = generic.DictionaryObject(
            {
                generic.pdf_name("/S"): generic.pdf_name("/JavaScript"),
                generic.pdf_name("/JS"): generic.TextStringObject("app.alert('x')"),
            }
        )
        w.update_root()

    report = check(_update(sealed_pdf, change))
    assert report["indication"] == "TOTAL_FAILED"
    assert "catalog_changed" in _codes(report)


def test_a_second_signature_keeps_both_valid(
    check: Check, test_ca: SigningCa, sealed_pdf: bytes
) -> None:
    twice = sign_pdf(test_ca, sealed_pdf, field_name="Signature2")
    report = check(twice)
    assert report["indication"] == "TOTAL_PASSED"
    assert [s["id"] for s in report["signatures"]] == ["Signature1", "Signature2"]
    assert all(s["indication"] == "TOTAL_PASSED" for s in report["signatures"])
    assert "new_signature_field" in _warnings(report["signatures"][0])


def test_every_signature_is_verified_not_only_the_last(
    check: Check, test_ca: SigningCa, sealed_pdf: bytes
) -> None:
    """Break the first signature's value; the second, intact-looking one must not hide it."""
    from asn1crypto import cms

    twice = sign_pdf(test_ca, sealed_pdf, field_name="Signature2")
    m = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", twice)
    assert m is not None
    der = bytes.fromhex(m.group(1).decode())
    value = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native
    pos = twice.lower().index(value.hex().encode(), m.start(1)) + 20
    flipped = b"0" if twice[pos : pos + 1] != b"0" else b"1"
    report = check(twice[:pos] + flipped + twice[pos + 1 :])
    first, second = report["signatures"]
    assert (first["indication"], first["subindication"]) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
    # The second signature covers the first revision, edited bytes included.
    assert (second["indication"], second["subindication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert report["indication"] == "TOTAL_FAILED"


def test_certification_permits_form_filling_only_when_it_says_so(
    check: Check, test_ca: SigningCa, form_pdf: bytes
) -> None:
    from pyhanko.sign import fields, signers

    def certify(perms: Any) -> bytes:
        w = IncrementalPdfFileWriter(io.BytesIO(form_pdf))
        out = io.BytesIO()
        signers.PdfSigner(
            signers.PdfSignatureMetadata(
                field_name="Cert",
                certify=True,
                docmdp_permissions=perms,
                subfilter=fields.SigSeedSubFilter.PADES,
            ),
            signer=test_ca.pdf_signer(),
        ).sign_pdf(w, output=out)
        return out.getvalue()

    def fill(w: IncrementalPdfFileWriter) -> None:
        field = w.root["/AcroForm"]["/Fields"][0].get_object()
        field[generic.pdf_name("/V")] = generic.TextStringObject("250 EUR")
        w.update_container(field)

    allowed = check(_update(certify(fields.MDPPerm.FILL_FORMS), fill))
    assert allowed["indication"] == "TOTAL_PASSED"
    assert "form_filled_after_signature" in _warnings(allowed["signatures"][0])
    forbidden = check(_update(certify(fields.MDPPerm.NO_CHANGES), fill))
    assert _verdict(forbidden) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "form_filled_after_signature" in _codes(forbidden)


def test_hostile_pdfs_end_with_format_failure(check: Check, sealed_pdf: bytes) -> None:
    truncated = check(sealed_pdf[: len(sealed_pdf) // 2])
    assert truncated["indication"] == "TOTAL_FAILED"
    assert truncated["indication"] != "TOTAL_PASSED"
    garbage = check(b"%PDF-1.7\n" + b"\x00" * 5000)
    assert _verdict(garbage) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    many = sealed_pdf + b"\n%%EOF\n" * 70
    report = check(many)
    assert _verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "limit_exceeded" in _codes(report)


def test_size_and_object_limits_are_enforced(
    check: Check, ctx: Any, sealed_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.validation, "limits", ValidationLimits(max_bytes=len(sealed_pdf) - 1))
    report = check(sealed_pdf)
    assert report["subindication"] == "FORMAT_FAILURE"
    assert "input_too_large" in _codes(report)
    monkeypatch.setattr(ctx.validation, "limits", ValidationLimits(max_objects=3))
    report = check(sealed_pdf)
    assert "limit_exceeded" in _codes(report)


def test_unsigned_pdf_has_no_signature(check: Check, plain_pdf: bytes) -> None:
    report = check(plain_pdf)
    assert _verdict(report) == ("TOTAL_FAILED", "SIGNED_DATA_NOT_FOUND")
    assert "no_signature" in _codes(report)


def test_decompression_bomb_after_signing_ends_quickly(check: Check, sealed_pdf: bytes) -> None:
    import time
    import zlib

    packer = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    bomb = b"".join(packer.compress(chunk) for _ in range(66)) + packer.flush()  # 66 MiB inflated

    def change(w: IncrementalPdfFileWriter) -> None:
        page = _first_page(w).get_object()
        stream = page["/Contents"].get_object()
        stream[generic.pdf_name("/Filter")] = generic.pdf_name("/FlateDecode")
        stream._encoded_data = bomb
        stream._data = None
        w.update_container(stream)

    forged = _update(sealed_pdf, change)
    start = time.monotonic()
    report = check(forged)
    assert time.monotonic() - start < 10
    assert _verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
