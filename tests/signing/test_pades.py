"""PAdES seals B-B to B-LTA, checked with poppler's pdfsig, openssl and pyHanko."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from api.context import Context
from signing import AGE_1_9, Level, Stamp, TsaUnavailable
from signing.keys import to_asn1
from tests.conftest import free_port, shared_path
from tests.logins import login_demo_person
from tests.signing.conftest import assert_pdfsig_valid, openssl_ts_verify, pdfsig


def _reader(data: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(data))


def offline_context(data: bytes, ctx: Context) -> ValidationContext:
    """Only the demo root and what the document embeds; no network."""
    dss = DocumentSecurityStore.read_dss(_reader(data))
    return dss.as_validation_context({"trust_roots": [to_asn1(ctx.pki.root)],
                                      "allow_fetching": False,
                                      "revocation_mode": "hard-fail"})


def _online_context(ctx: Context) -> ValidationContext:
    return ValidationContext(trust_roots=[to_asn1(ctx.pki.root)], allow_fetching=True)


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
def test_every_level_is_valid_for_pdfsig_and_pyhanko(live, ctx: Context, demo_code: str,
                                                     one_page_pdf: bytes, nss_db: Path,
                                                     tmp_path: Path, level: str) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, level)
    assert sealed is not None
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    blocks = assert_pdfsig_valid(path, nss_db)
    assert len(blocks) == (2 if level == "B-LTA" else 1)

    reader = _reader(sealed)
    sig = reader.embedded_regular_signatures[0]
    status = validate_pdf_signature(sig, signer_validation_context=_online_context(ctx))
    assert status.bottom_line, status.pretty_print_details()
    assert (status.timestamp_validity is not None) == Level.parse(level).timestamped
    # PAdES baseline: signing-certificate-v2, and no signingTime (the time is in /M).
    attrs = {a["type"].native for a in sig.signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in attrs and "signing_time" not in attrs
    assert "/ESIC" in reader.root["/Extensions"]
    assert ("/DSS" in reader.root) == Level.parse(level).long_term
    if level == "B-LTA":
        doc_ts = reader.embedded_timestamp_signatures[0]
        ts_status = validate_pdf_timestamp(doc_ts, validation_context=_online_context(ctx))
        assert ts_status.valid and ts_status.trusted


@pytest.mark.parametrize("option", ["age_policy", "pdfa_stamp", "certify_stamp"])
def test_every_seal_option_is_valid_for_pdfsig(live, ctx: Context, demo_code: str,
                                              nss_db: Path, tmp_path: Path, option: str) -> None:
    from bench.samples import make_pdf

    kwargs = {"age_policy": {"age_policy": True},
              "pdfa_stamp": {"stamp": True},
              "certify_stamp": {"certify": True, "stamp": True}}[option]
    source = make_pdf(1, pdfa=option == "pdfa_stamp")
    path = tmp_path / f"{option}.pdf"
    path.write_bytes(ctx.sealer.seal_pdf(demo_code, source, "B-T", **kwargs))
    assert len(assert_pdfsig_valid(path, nss_db)) == 1


def test_signature_timestamp_verifies_with_openssl(live, ctx: Context, demo_code: str,
                                                   one_page_pdf: bytes, tmp_path: Path) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-T")
    signer_info = _reader(sealed).embedded_regular_signatures[0].signer_info
    token = next(a["values"][0] for a in signer_info["unsigned_attrs"]
                 if a["type"].native == "signature_time_stamp_token")
    tok = tmp_path / "sig.tst"
    tok.write_bytes(cms.ContentInfo.load(token.dump()).dump())
    imprint = hashlib.sha256(signer_info["signature"].native).digest()
    res = openssl_ts_verify(tok, ctx=ctx, digest=imprint, token_in=True)
    assert res.returncode == 0, res.stdout + res.stderr
    wrong = openssl_ts_verify(tok, ctx=ctx, digest=hashlib.sha256(b"x").digest(), token_in=True)
    assert wrong.returncode != 0


def test_document_timestamp_of_lta_verifies_with_openssl(live, ctx: Context, demo_code: str,
                                                         one_page_pdf: bytes,
                                                         tmp_path: Path) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-LTA")
    assert sealed is not None
    doc_ts = _reader(sealed).embedded_timestamp_signatures[0]
    a, b, c, d = doc_ts.sig_object["/ByteRange"]
    covered = tmp_path / "covered.bin"
    covered.write_bytes(sealed[a:a + b] + sealed[c:c + d])
    tok = tmp_path / "doc.tst"
    tok.write_bytes(doc_ts.signed_data_ci.dump() if hasattr(doc_ts, "signed_data_ci")
                    else cms.ContentInfo({"content_type": "signed_data",
                                          "content": doc_ts.signed_data}).dump())
    res = openssl_ts_verify(tok, ctx=ctx, data=covered, token_in=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_b_lt_validates_offline_from_embedded_data_only(live, ctx: Context, demo_code: str,
                                                        one_page_pdf: bytes) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-LT")
    assert sealed is not None
    sig = _reader(sealed).embedded_regular_signatures[0]
    status = validate_pdf_signature(sig, signer_validation_context=offline_context(sealed, ctx),
                                    ts_validation_context=offline_context(sealed, ctx))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted

    # Without the DSS, the same offline check cannot establish trust (hard-fail revocation).
    bare = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-T")
    assert bare is not None
    bare_sig = _reader(bare).embedded_regular_signatures[0]
    no_dss = ValidationContext(trust_roots=[to_asn1(ctx.pki.root)], allow_fetching=False,
                               revocation_mode="hard-fail", crls=[], ocsps=[])
    bare_status = validate_pdf_signature(bare_sig, signer_validation_context=no_dss)
    assert not bare_status.bottom_line


def test_a_tampered_byte_breaks_the_seal(live, ctx: Context, demo_code: str,
                                         one_page_pdf: bytes, nss_db: Path,
                                         tmp_path: Path) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-LT")
    assert sealed is not None
    pos = sealed.index(b"page 1")
    tampered = sealed[:pos] + b"P" + sealed[pos + 1:]
    sig = _reader(tampered).embedded_regular_signatures[0]
    status = validate_pdf_signature(sig, signer_validation_context=offline_context(tampered, ctx))
    assert not status.intact and not status.bottom_line
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)
    report = pdfsig(path, nss_db)
    assert "Signature is Valid" not in report
    assert "Digest Mismatch" in report or "Invalid" in report


def test_age_policy_identifier_carries_the_policy_hash(ctx: Context, demo_code: str,
                                                       one_page_pdf: bytes) -> None:
    published = shared_path("corpus", "policies", "age-1.9.pdf").read_bytes()
    assert hashlib.sha1(published).digest() == AGE_1_9.digest  # noqa: S324 - the policy's own hash

    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B", age_policy=True)
    sig = _reader(sealed).embedded_regular_signatures[0]  # type: ignore[arg-type]
    attrs = {a["type"].native: a["values"][0] for a in sig.signer_info["signed_attrs"]}
    assert "signing_time" not in attrs and "signing_certificate_v2" in attrs
    spid = attrs["signature_policy_identifier"].chosen
    assert spid["sig_policy_id"].native == "2.16.724.1.3.1.1.2.1.9"
    assert spid["sig_policy_hash"]["digest_algorithm"]["algorithm"].native == "sha1"
    assert spid["sig_policy_hash"]["digest"].native == hashlib.sha1(published).digest()  # noqa: S324
    assert spid["sig_policy_qualifiers"][0]["sig_qualifier"].native == AGE_1_9.spuri
    reader = _reader(sealed)  # type: ignore[arg-type]
    assert "/ESIC" in reader.root["/Extensions"]
    assert reader.embedded_signatures[0].sig_object["/SubFilter"] == "/ETSI.CAdES.detached"


def test_certification_signature(live, ctx: Context, demo_code: str, one_page_pdf: bytes,
                                 nss_db: Path, tmp_path: Path) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-T", certify=True)
    assert sealed is not None
    sig = _reader(sealed).embedded_regular_signatures[0]
    assert sig.docmdp_level is not None
    approval = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-T")
    assert _reader(approval).embedded_regular_signatures[0].docmdp_level is None  # type: ignore[arg-type]
    path = tmp_path / "certified.pdf"
    path.write_bytes(sealed)
    assert_pdfsig_valid(path, nss_db)


def test_visible_stamp_with_verification_code(live, ctx: Context, demo_code: str,
                                              one_page_pdf: bytes, nss_db: Path,
                                              tmp_path: Path) -> None:
    stamp = Stamp(municipality="Ayuntamiento de Villademo", verification_code="ELOC-1234-ABCD",
                  verification_url="https://sede.villademo.example/csv/ELOC-1234-ABCD")
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-T", stamp=stamp)
    assert sealed is not None
    reader = _reader(sealed)
    sig = reader.embedded_regular_signatures[0]
    widget = sig.sig_field
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    assert x2 - x1 > 100 and y2 - y1 > 40
    appearance = widget["/AP"]["/N"].get_object()
    drawn = _unescape(appearance.data + _flatten(appearance))
    assert b"ELOC-1234-ABCD" in drawn
    assert b"https://sede.villademo.example/csv/ELOC-1234-ABCD" in drawn
    assert b"REGISTRO ELECTRONICO - AYUNTAMIENTO DE VILLADEMO" in drawn  # the holder
    assert "/QR" in appearance["/Resources"]["/XObject"]
    path = tmp_path / "stamped.pdf"
    path.write_bytes(sealed)
    assert_pdfsig_valid(path, nss_db)


def _unescape(data: bytes) -> bytes:
    """Undo PDF string-literal octal escapes (``\\055`` is ``-``)."""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), data)


def _flatten(stream: object) -> bytes:
    """Text drawn in nested form XObjects of an appearance stream."""
    out = b""
    resources = stream.get("/Resources", {})  # type: ignore[attr-defined]
    for xobj in resources.get("/XObject", {}).values():
        obj = xobj.get_object()
        out += obj.data + _flatten(obj)
    return out


def test_pdfa_input_keeps_its_metadata_and_embeds_the_stamp_font(ctx: Context, demo_code: str
                                                                 ) -> None:
    from bench.samples import make_pdf

    sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1, pdfa=True), "B-B", stamp=True)
    reader = _reader(sealed)  # type: ignore[arg-type]
    assert b"pdfaid:part" in reader.root["/Metadata"].get_object().data
    appearance = reader.embedded_signatures[0].sig_field["/AP"]["/N"].get_object()
    fonts = _fonts(appearance)
    assert fonts and all("/FontDescriptor" in f or "/DescendantFonts" in f for f in fonts)


def _fonts(stream: object) -> list[object]:
    resources = stream.get("/Resources", {})  # type: ignore[attr-defined]
    found = [f.get_object() for f in resources.get("/Font", {}).values()]
    for xobj in resources.get("/XObject", {}).values():
        found += _fonts(xobj.get_object())
    return found


def test_tsa_down_fails_cleanly_without_downgrading(registrar, ctx: Context, demo_code: str,
                                                    one_page_pdf: bytes) -> None:
    with ctx.transaction() as s:
        from infra.tenancy import get_municipality

        get_municipality(s, demo_code).tsa_url = f"http://127.0.0.1:{free_port()}/tsa"
    with pytest.raises(TsaUnavailable):
        ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-T")
    res = registrar.post("/signing/seal", data={"municipality": demo_code, "level": "B-T"},
                         files={"document": ("a.pdf", one_page_pdf, "application/pdf")})
    assert res.status_code == 503
    assert res.headers["content-type"] == "application/problem+json"
    assert res.json()["code"] == "tsa_unavailable"
    # B-B needs no TSA and still works.
    ok = registrar.post("/signing/seal", data={"municipality": demo_code, "level": "B-B"},
                        files={"document": ("a.pdf", one_page_pdf, "application/pdf")})
    assert ok.status_code == 200 and ok.content.startswith(b"%PDF")


def test_extend_b_b_to_b_lta_over_http(live, ctx: Context, demo_code: str, one_page_pdf: bytes,
                                       nss_db: Path, tmp_path: Path) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B")
    with live.client() as http:
        login_demo_person(http, ctx, "employee", demo_code)
        res = http.post("/signing/extend", data={"municipality": demo_code, "level": "B-LTA"},
                        files={"document": ("s.pdf", sealed, "application/pdf")})
        # Someone else's PDF (no eLocal seal) cannot be extended.
        other = http.post("/signing/extend", data={"municipality": demo_code, "level": "B-LT"},
                          files={"document": ("o.pdf", one_page_pdf, "application/pdf")})
    assert res.status_code == 200, res.text
    reader = _reader(res.content)
    assert "/DSS" in reader.root
    assert len(reader.embedded_timestamp_signatures) == 2  # B-T by document timestamp, then LTA
    path = tmp_path / "extended.pdf"
    path.write_bytes(res.content)
    assert_pdfsig_valid(path, nss_db)
    sig = reader.embedded_regular_signatures[0]
    status = validate_pdf_signature(sig, signer_validation_context=offline_context(res.content,
                                                                                  ctx))
    assert status.intact and status.valid and status.trusted

    assert other.status_code == 422 and other.json()["code"] == "not_an_elocal_signature"


def test_pkcs12_seal_and_keys_are_parsed_once(ctx: Context, demo_code: str,
                                              one_page_pdf: bytes,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import certs.keys

    _, _, p12 = ctx.pki.seal_paths(demo_code)
    with ctx.transaction() as s:
        from infra.tenancy import get_municipality

        muni = get_municipality(s, demo_code)
        muni.seal_key, muni.seal_cert = f"pkcs12:{p12}", None
    monkeypatch.setattr(ctx.sealer, "_key_password", "demo")
    first = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B")
    signer_cert = _reader(first).embedded_signatures[0].signer_cert
    assert signer_cert.dump() == to_asn1(ctx.pki.seal(demo_code).certificate).dump()

    parses: list[object] = []
    for name in ("_parse_pkcs12", "_parse_pem"):
        original = getattr(certs.keys, name)
        monkeypatch.setattr(certs.keys, name,
                            lambda *a, _o=original, **k: parses.append(a) or _o(*a, **k))
    key = ctx.sealer.key(demo_code)
    for _ in range(3):
        ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B")
        ctx.sealer.seal_xml(demo_code, b"<a/>", "B-B")
    assert parses == [] and ctx.sealer.key(demo_code) is key


def test_a_learnt_reservation_that_is_too_small_is_redone(ctx: Context, demo_code: str,
                                                          one_page_pdf: bytes) -> None:
    seal = ctx.sealer.key(demo_code)
    seal.reservations.clear()
    first = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B")
    assert len(seal.reservations) == 1, "the first seal teaches the container size"
    for shape in seal.reservations:
        seal.reservations[shape] = 64  # far too small for any CMS
    again = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B")
    for doc in (first, again):
        sig = _reader(doc).embedded_regular_signatures[0]
        status = validate_pdf_signature(sig, signer_validation_context=ValidationContext(
            trust_roots=[to_asn1(ctx.pki.root)], allow_fetching=False, crls=[], ocsps=[],
            revocation_mode="soft-fail"))
        assert status.intact and status.valid
    assert all(v > 1000 for v in seal.reservations.values())
