"""Forgeries that a PDF viewer displays as signed, sent to ``POST /validation``.

Each test seals a document with a CA the demo municipality trusts (so that an
untouched seal is TOTAL_PASSED), changes it the way an attacker would, and checks
what a user of the API is told: never TOTAL_PASSED for the forged signature, and
the stable code that says what changed. The allowed counterpart of each attack
(a later signature filling a prepared field, an invisible second signature, a
document timestamp added after signing) stays TOTAL_PASSED.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko import stamp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.validation import rendering
from tests.conftest import require_tool
from tests.validation.conftest import SigningCa, sign_pdf, validation_poster

N = generic.pdf_name
Change = Callable[[IncrementalPdfFileWriter], None]


# -- a CA with a time-stamping authority and an expired signer -----------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _der(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _pkcs8(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass(frozen=True)
class TimeCa:
    root: x509.Certificate
    root_pem: Path
    tsa_cert: x509.Certificate
    #: RSA: pyHanko's in-process time-stamper signs only with RSA.
    tsa_key: rsa.RSAPrivateKey
    #: Valid from 90 days ago until 10 days ago.
    expired_cert: x509.Certificate
    expired_key: ec.EllipticCurvePrivateKey

    def timestamper(self, at: datetime) -> DummyTimeStamper:
        return DummyTimeStamper(
            tsa_cert=_der(self.tsa_cert),
            tsa_key=_pkcs8(self.tsa_key),
            certs_to_embed=SimpleCertificateStore.from_certs([_der(self.root)]),
            fixed_dt=at,
        )

    def expired_signer(self) -> signers.SimpleSigner:
        return signers.SimpleSigner(
            signing_cert=_der(self.expired_cert),
            signing_key=_pkcs8(self.expired_key),
            cert_registry=SimpleCertificateStore.from_certs([_der(self.root)]),
        )


@pytest.fixture(scope="module")
def time_ca(tmp_path_factory: pytest.TempPathFactory) -> TimeCa:
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("Forgery Test Root"))
        .issuer_name(_name("Forgery Test Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=100))
        .not_valid_after(now + timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )

    def leaf(cn: str, start: datetime, end: datetime, tsa: bool) -> tuple[x509.Certificate, Any]:
        key: Any = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if tsa
            else ec.generate_private_key(ec.SECP256R1())
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                critical=False,
            )
        )
        if tsa:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
        return builder.sign(root_key, hashes.SHA256()), key

    tsa_cert, tsa_key = leaf(
        "Forgery Test TSA", now - timedelta(days=90), now + timedelta(days=300), True
    )
    expired_cert, expired_key = leaf(
        "Expired Signer", now - timedelta(days=90), now - timedelta(days=10), False
    )
    root_pem = tmp_path_factory.mktemp("time-ca") / "root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return TimeCa(root, root_pem, tsa_cert, tsa_key, expired_cert, expired_key)


# -- the API, trusting the test CAs ---------------------------------------------------------


@pytest.fixture
def check(
    client: Any, ctx: Any, demo_code: str, test_ca: SigningCa, time_ca: TimeCa
) -> Callable[..., dict[str, Any]]:
    return validation_poster(client, ctx, demo_code, test_ca.root_pem, time_ca.root_pem)


def _errors(sig: dict[str, Any]) -> set[str]:
    return {e["code"] for e in sig["errors"]}


def _update(data: bytes, change: Change) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    change(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _numbers(*values: float) -> generic.ArrayObject:
    return generic.ArrayObject([generic.NumberObject(v) for v in values])


def _page(w: Any, content: bytes, *, media_box: bool = True) -> generic.DictionaryObject:
    font = w.add_object(
        generic.DictionaryObject(
            {N("/Type"): N("/Font"), N("/Subtype"): N("/Type1"), N("/BaseFont"): N("/Helvetica")}
        )
    )
    page = generic.DictionaryObject(
        {
            N("/Type"): N("/Page"),
            N("/Resources"): generic.DictionaryObject(
                {N("/Font"): generic.DictionaryObject({N("/F1"): font})}
            ),
            N("/Contents"): w.add_object(generic.StreamObject(stream_data=content)),
        }
    )
    if media_box:
        page[N("/MediaBox")] = _numbers(0, 0, 595, 842)
    return page


def _white_box(w: Any, width: int, height: int) -> generic.IndirectObject:
    return w.add_object(  # type: ignore[no-any-return]
        generic.StreamObject(
            {
                N("/Type"): N("/XObject"),
                N("/Subtype"): N("/Form"),
                N("/BBox"): _numbers(0, 0, width, height),
            },
            stream_data=f"1 1 1 rg 0 0 {width} {height} re f".encode(),
        )
    )


PAY = b"BT /F1 18 Tf 72 720 Td (Pay 100 EUR) Tj ET BT /F1 18 Tf 72 100 Td (Void if unpaid) Tj ET"


def _document(content: bytes = PAY, *, inherited_media_box: bool = False) -> bytes:
    w = PdfFileWriter()
    w.insert_page(_page(w, content, media_box=not inherited_media_box))
    if inherited_media_box:
        w.root["/Pages"].get_object()[N("/MediaBox")] = _numbers(0, 0, 595, 842)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


# -- 1. proof of existence only from later document timestamps ------------------------------


def _sign_expired(ca: TimeCa, data: bytes) -> bytes:
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="Sig", subfilter=fields.SigSeedSubFilter.PADES),
        signer=ca.expired_signer(),
        new_field_spec=fields.SigFieldSpec("Sig"),
    ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)), output=out)
    return out.getvalue()


def _doc_timestamp(ca: TimeCa, data: bytes, at: datetime) -> bytes:
    out = io.BytesIO()
    signers.PdfTimeStamper(ca.timestamper(at)).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)), "sha256", output=out
    )
    return out.getvalue()


def test_an_older_document_timestamp_proves_nothing_about_a_later_signature(
    check: Callable[..., dict[str, Any]], time_ca: TimeCa
) -> None:
    """A signature by a certificate expired today, made after a timestamp from when it was
    valid, must not borrow that timestamp's time; a timestamp over the signature may."""
    when_valid = datetime.now(UTC) - timedelta(days=30)
    borrowed = _sign_expired(time_ca, _doc_timestamp(time_ca, _document(), when_valid))
    report = check(borrowed)
    (sig,) = report["signatures"]
    assert report["indication"] == "INDETERMINATE", sig
    assert sig["subindication"] in ("OUT_OF_BOUNDS_NO_POE", "EXPIRED")
    assert "certificate_expired" in _errors(sig)
    assert datetime.fromisoformat(sig["best_signature_time"]) > datetime.now(UTC) - timedelta(
        days=1
    )

    proven = _doc_timestamp(time_ca, _sign_expired(time_ca, _document()), when_valid)
    report = check(proven)
    (sig,) = report["signatures"]
    assert report["indication"] == "TOTAL_PASSED", sig["errors"]
    assert sig["level"] == "B-T"
    assert datetime.fromisoformat(sig["best_signature_time"]) == when_valid


def test_point_in_time_validation_of_a_since_expired_certificate(
    check: Callable[..., dict[str, Any]], time_ca: TimeCa
) -> None:
    signed = _sign_expired(time_ca, _document())
    today = check(signed)
    assert today["indication"] == "INDETERMINATE"
    assert "certificate_expired" in _errors(today["signatures"][0])
    then = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    back_then = check(signed, at=then)
    assert back_then["indication"] == "TOTAL_PASSED", back_then["signatures"][0]["errors"]


# -- 2. and 3. what a page shows: resources and inherited attributes ------------------------


def test_defining_a_resource_that_signed_content_already_draws_fails(
    check: Callable[..., dict[str, Any]], test_ca: SigningCa
) -> None:
    """Signed content draws ``/X1`` before it exists; defining it later paints over the text."""
    signed = sign_pdf(test_ca, _document(PAY + b" /X1 Do"))
    assert check(signed)["indication"] == "TOTAL_PASSED"

    def reveal(w: IncrementalPdfFileWriter) -> None:
        page = w.root["/Pages"]["/Kids"][0].get_object()
        page["/Resources"][N("/XObject")] = generic.DictionaryObject(
            {N("/X1"): _white_box(w, 595, 842)}
        )
        w.update_container(page)

    report = check(_update(signed, reveal))
    (sig,) = report["signatures"]
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "page_content_changed" in _errors(sig)
    assert sig["intact"] is False


@pytest.mark.parametrize(
    ("key", "value"),
    [("/CropBox", _numbers(0, 600, 595, 842)), ("/Rotate", generic.NumberObject(180))],
)
def test_page_attributes_inherited_from_the_page_tree_are_compared(
    check: Callable[..., dict[str, Any]], test_ca: SigningCa, key: str, value: Any
) -> None:
    """A /CropBox on the root /Pages node hides most of every page that has none."""
    signed = sign_pdf(test_ca, _document(inherited_media_box=True))
    assert check(signed)["indication"] == "TOTAL_PASSED"

    def crop(w: IncrementalPdfFileWriter) -> None:
        pages = w.root["/Pages"].get_object()
        pages[N(key)] = value
        w.update_container(pages)

    report = check(_update(signed, crop))
    (sig,) = report["signatures"]
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "page_content_changed" in _errors(sig)


# -- 4. existing signature fields ------------------------------------------------------------


def _with_empty_signature_field(name: str, box: tuple[int, int, int, int]) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(_document()))
    fields.append_signature_field(w, fields.SigFieldSpec(name, box=box))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _field(w: IncrementalPdfFileWriter, name: str) -> generic.DictionaryObject:
    ref = next(f for f in w.root["/AcroForm"]["/Fields"] if f.get_object().get("/T") == name)
    return ref.get_object()  # type: ignore[no-any-return]


def test_new_appearance_on_an_empty_signature_field_fails(
    check: Callable[..., dict[str, Any]], test_ca: SigningCa
) -> None:
    """A prepared field over the text may only change when a later signature fills it."""
    prepared = _with_empty_signature_field("Firma2", (50, 700, 545, 760))
    signed = sign_pdf(test_ca, prepared)

    def white_out(w: IncrementalPdfFileWriter) -> None:
        widget = _field(w, "Firma2")
        widget[N("/AP")] = generic.DictionaryObject({N("/N"): _white_box(w, 495, 60)})
        w.update_container(widget)

    report = check(_update(signed, white_out))
    (sig,) = report["signatures"]
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "annotation_changed" in _errors(sig)

    report = check(_sign_visible(test_ca, signed, "Firma2", existing=True))
    assert report["indication"] == "TOTAL_PASSED", [s["errors"] for s in report["signatures"]]
    assert [s["id"] for s in report["signatures"]] == ["Signature1", "Firma2"]


def test_a_signature_field_holding_an_empty_dictionary_is_not_skipped(
    check: Callable[..., dict[str, Any]], test_ca: SigningCa, sealed_pdf: bytes
) -> None:
    def fake(w: IncrementalPdfFileWriter) -> None:
        page_ref = w.root["/Pages"]["/Kids"][0]
        field = w.add_object(
            generic.DictionaryObject(
                {
                    N("/FT"): N("/Sig"),
                    N("/T"): generic.TextStringObject("Alcalde"),
                    N("/V"): generic.DictionaryObject(),
                    N("/Type"): N("/Annot"),
                    N("/Subtype"): N("/Widget"),
                    N("/Rect"): _numbers(0, 0, 0, 0),
                    N("/P"): page_ref,
                }
            )
        )
        page = page_ref.get_object()
        page[N("/Annots")] = generic.ArrayObject([*page.get("/Annots", []), field])
        w.update_container(page)
        form = w.root["/AcroForm"]
        form["/Fields"].append(field)
        w.update_container(form)

    report = check(_update(sealed_pdf, fake))
    assert report["indication"] == "TOTAL_FAILED"
    by_id = {s["id"]: s for s in report["signatures"]}
    assert by_id["Alcalde"]["indication"] == "TOTAL_FAILED"
    assert by_id["Signature1"]["indication"] == "TOTAL_FAILED"
    assert "annotation_added" in _errors(by_id["Signature1"])


# -- 5. new signature widgets after a signature ---------------------------------------------


def _sign_visible(
    ca: SigningCa,
    data: bytes,
    name: str,
    box: tuple[int, int, int, int] = (60, 700, 400, 760),
    *,
    existing: bool = False,
) -> bytes:
    """A signature whose appearance is an opaque white box (no text of its own)."""
    width, height = box[2] - box[0], box[3] - box[1]
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name=name, subfilter=fields.SigSeedSubFilter.PADES),
        signer=ca.pdf_signer(),
        new_field_spec=None if existing else fields.SigFieldSpec(name, box=box),
        stamp_style=stamp.TextStampStyle(
            stamp_text=" ",
            border_width=0,
            background=RawContent(
                f"1 1 1 rg 0 0 {width} {height} re f".encode(),
                box=BoxConstraints(width, height),
            ),
            background_opacity=1,
        ),
    ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)), output=out)
    return out.getvalue()


def test_a_later_visible_signature_over_signed_content_fails_the_earlier_one(
    check: Callable[..., dict[str, Any]], test_ca: SigningCa
) -> None:
    signed = sign_pdf(test_ca, _document())
    report = check(_sign_visible(test_ca, signed, "Sig2"))
    first, second = report["signatures"]
    assert (first["indication"], first["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "annotation_added" in _errors(first)
    assert second["indication"] == "TOTAL_PASSED"
    assert report["indication"] == "TOTAL_FAILED"


def test_a_later_invisible_signature_keeps_both_valid(
    check: Callable[..., dict[str, Any]], test_ca: SigningCa
) -> None:
    twice = sign_pdf(test_ca, sign_pdf(test_ca, _document()), field_name="Signature2")
    report = check(twice)
    assert report["indication"] == "TOTAL_PASSED", [s["errors"] for s in report["signatures"]]
    assert "new_signature_field" in {w["code"] for w in report["signatures"][0]["warnings"]}


# -- 6. signature dictionaries and DocMDP as signed ------------------------------------------


def _separate_field_and_widget(name: str) -> bytes:
    """An empty signature field whose (invisible) widget is a separate kid object."""
    w = IncrementalPdfFileWriter(io.BytesIO(_with_text_field()))
    page_ref = w.root["/Pages"]["/Kids"][0]
    field = w.add_object(
        generic.DictionaryObject({N("/FT"): N("/Sig"), N("/T"): generic.TextStringObject(name)})
    )
    widget = w.add_object(
        generic.DictionaryObject(
            {
                N("/Type"): N("/Annot"),
                N("/Subtype"): N("/Widget"),
                N("/Rect"): _numbers(0, 0, 0, 0),
                N("/F"): generic.NumberObject(4),
                N("/Parent"): field,
                N("/P"): page_ref,
            }
        )
    )
    field.get_object()[N("/Kids")] = generic.ArrayObject([widget])
    page = page_ref.get_object()
    page[N("/Annots")] = generic.ArrayObject([*page.get("/Annots", []), widget])
    w.update_container(page)
    form = w.root["/AcroForm"]
    form["/Fields"].append(field)
    w.update_container(form)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _with_text_field() -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(_document()))
    page_ref = w.root["/Pages"]["/Kids"][0]
    field = w.add_object(
        generic.DictionaryObject(
            {
                N("/FT"): N("/Tx"),
                N("/T"): generic.TextStringObject("amount"),
                N("/V"): generic.TextStringObject("100 EUR"),
                N("/Type"): N("/Annot"),
                N("/Subtype"): N("/Widget"),
                N("/Rect"): _numbers(72, 600, 272, 620),
                N("/P"): page_ref,
            }
        )
    )
    page = page_ref.get_object()
    page[N("/Annots")] = generic.ArrayObject([field])
    w.update_container(page)
    w.root[N("/AcroForm")] = generic.DictionaryObject({N("/Fields"): generic.ArrayObject([field])})
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_loosening_a_signature_field_lock_after_signing_fails(
    check: Callable[..., dict[str, Any]], test_ca: SigningCa
) -> None:
    """An approval signature forbids form filling; a /Lock that permits it, added to the
    signature field afterwards, must not change what the signer allowed."""
    signed = sign_pdf(
        test_ca, _separate_field_and_widget("Approval"), "Approval", existing_field=True
    )
    assert check(signed)["indication"] == "TOTAL_PASSED"

    def loosen_and_fill(w: IncrementalPdfFileWriter) -> None:
        field = _field(w, "Approval")
        field[N("/Lock")] = generic.DictionaryObject(
            {
                N("/Type"): N("/SigFieldLock"),
                N("/Action"): N("/All"),
                N("/P"): generic.NumberObject(2),
            }
        )
        w.update_container(field)
        amount = _field(w, "amount")
        amount[N("/V")] = generic.TextStringObject("900000 EUR")
        w.update_container(amount)

    report = check(_update(signed, loosen_and_fill))
    (sig,) = report["signatures"]
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert {"annotation_changed", "form_filled_after_signature"} <= _errors(sig)


# -- 7. the rendered-text check fails closed -------------------------------------------------


def test_text_that_could_not_be_compared_is_not_a_pass(
    check: Callable[..., dict[str, Any]],
    test_ca: SigningCa,
    sealed_pdf: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_tool("pdftotext")
    twice = sign_pdf(test_ca, sealed_pdf, field_name="Signature2")
    monkeypatch.setattr(rendering, "TOTAL_BUDGET_SECONDS", 0.0)
    report = check(twice)
    first, second = report["signatures"]
    assert (first["indication"], first["subindication"]) == (
        "INDETERMINATE",
        "SIG_CONSTRAINTS_FAILURE",
    )
    assert "rendered_text_not_compared" in _errors(first)
    assert first["intact"] is True
    # The last signature covers the whole file: nothing after it to render.
    assert second["indication"] == "TOTAL_PASSED"
    assert report["indication"] == "INDETERMINATE"


def test_the_final_document_is_rendered_once_however_many_signatures(
    check: Callable[..., dict[str, Any]],
    test_ca: SigningCa,
    sealed_pdf: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_tool("pdftotext")
    data = sealed_pdf
    for n in range(2, 5):
        data = sign_pdf(test_ca, data, field_name=f"Signature{n}")
    rendered: list[int] = []
    real = rendering.page_texts

    def counting(pdf: bytes, timeout: float = rendering.TIMEOUT_SECONDS) -> list[str] | None:
        rendered.append(len(pdf))
        return real(pdf, timeout)

    monkeypatch.setattr(rendering, "page_texts", counting)
    report = check(data)
    assert report["indication"] == "TOTAL_PASSED", [s["errors"] for s in report["signatures"]]
    assert len(report["signatures"]) == 4
    # Three earlier signed revisions and the final file, each once.
    assert rendered.count(len(data)) == 1
    assert len(rendered) == 4
