"""Registering entries and exits over HTTP, with sealed receipts."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from typing import Any

import httpx
import pytest
from lxml import etree

from api.context import Context
from registry import merkle
from registry.checkpoint import open_note
from registry.receipts import RECEIPT_NS
from signing.validation import Indication, validate
from signing.xmlparse import parse_xml
from tests.conftest import require_tool
from tests.registry.conftest import entry_body, minimal_pdf, submit


def test_citizen_entry_gets_number_instants_and_sealed_receipt(
    ctx: Context, citizen: httpx.Client, demo_code: str, tmp_path: Any
) -> None:
    pdf = minimal_pdf("Plano de la cocina")
    r = submit(citizen, demo_code, files=[("plano.pdf", pdf, "application/pdf"),
                                          ("../../etc/nota.txt", b"hola", "text/plain")])
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith(r.json()["id"])
    e: dict[str, Any] = r.json()
    assert e["number"].endswith("/E/000001") and e["sequence"] == 1
    assert e["presenter"]["id_number"] == "12345678Z"
    assert e["interested"] == [{"id_type": "NIF", "id_number": "12345678Z",
                                "name": "María García López"}]
    assert [(a["name"], a["size"], a["mime"], a["sha256"]) for a in e["attachments"]] == [
        ("plano.pdf", len(pdf), "application/pdf", hashlib.sha256(pdf).hexdigest()),
        ("nota.txt", 4, "text/plain", hashlib.sha256(b"hola").hexdigest())]
    assert citizen.get(e["attachments"][0]["href"]).content == pdf

    receipt = citizen.get(e["receipt"]["pdf"]).content
    assert hashlib.sha256(receipt).hexdigest() == e["receipt"]["pdf_sha256"]
    xml = citizen.get(e["receipt"]["xml"]).content
    roots = [ctx.pki.root]
    for document in (receipt, xml):
        report = validate(document, trust_roots=roots)
        assert report.indication is Indication.TOTAL_PASSED
        # B-T: the seal carries a signature time-stamp (Ley 39/2015 art. 16.3).
        assert [sig.level for sig in report.signatures] == ["B-T"]
        assert report.signatures[0].timestamps
    _assert_visible_seal(receipt)

    # pdfsig (poppler) accepts the seal; the stamp shows the verification code.
    path = tmp_path / "receipt.pdf"
    path.write_bytes(receipt)
    out = subprocess.run([require_tool("pdfsig"), str(path)], capture_output=True, text=True)
    assert "Signature is Valid" in out.stdout, out.stdout + out.stderr
    text = subprocess.run([require_tool("pdftotext"), str(path), "-"], capture_output=True,
                          text=True).stdout
    for fact in (e["number"], e["receipt"]["verification_code"], "plano.pdf",
                 hashlib.sha256(pdf).hexdigest(), "Urbanismo", "2117836"):
        assert fact in text

    # The XML states the same facts, the leaf index and a checkpoint the log key signed.
    root = parse_xml(xml).getroot()
    ns = {"r": RECEIPT_NS}
    assert root.findtext("r:NumeroRegistro", namespaces=ns) == e["number"]
    assert [d.findtext("r:Huella", namespaces=ns)
            for d in root.iterfind("r:Documentos/r:Documento", ns)] == [
        a["sha256"] for a in e["attachments"]]
    assert int(root.findtext("r:RegistroTransparencia/r:IndiceHoja", namespaces=ns) or -1) == (
        e["receipt"]["leaf_index"])
    note = root.findtext("r:RegistroTransparencia/r:PuntoControl", namespaces=ns) or ""
    body = open_note(note, ctx.registry_log.verifier(demo_code))
    assert int(body.splitlines()[1]) > e["receipt"]["leaf_index"]
    assert etree.QName(root).localname == "Justificante"


def test_receipt_proves_its_leaf_is_in_the_checkpoint_it_states(
    ctx: Context, citizen: httpx.Client, demo_code: str
) -> None:
    """An auditor holding only the receipt and the public leaf checks its inclusion."""
    for _ in range(4):
        assert submit(citizen, demo_code).status_code == 201
    e = submit(citizen, demo_code).json()
    root = parse_xml(citizen.get(e["receipt"]["xml"]).content).getroot()
    ns = {"r": RECEIPT_NS}
    index = int(root.findtext("r:RegistroTransparencia/r:IndiceHoja", namespaces=ns) or -1)
    note = root.findtext("r:RegistroTransparencia/r:PuntoControl", namespaces=ns) or ""
    _, size, tree_root = open_note(note, ctx.registry_log.verifier(demo_code)).splitlines()[:3]
    proof = [base64.b64decode(n.text or "") for n in
             root.iterfind("r:RegistroTransparencia/r:PruebaInclusion/r:Nodo", ns)]
    assert proof  # leaf 4 of 5: the root of the first four leaves
    leaf = citizen.get(f"/registry/{demo_code}/log/leaves",
                       params={"start": index, "end": index + 1}).json()["leaves"][0]["data"]
    merkle.verify_inclusion(merkle.leaf_hash(leaf.encode()), index, int(size), proof,
                            base64.b64decode(tree_root))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(merkle.leaf_hash(leaf.encode() + b" "), index, int(size), proof,
                                base64.b64decode(tree_root))


def test_numbers_run_per_kind_and_exits_need_addressees(
    citizen: httpx.Client, registrar: httpx.Client, demo_code: str
) -> None:
    numbers = [submit(citizen, demo_code).json()["number"] for _ in range(3)]
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000003"]
    out = submit(registrar, demo_code, entry_body(destination_unit=None), kind="exits")
    assert out.status_code == 422 and out.json()["field"] == "interested"
    addressee = {"id_type": "DIR3", "id_number": "L01280796", "name": "Ayuntamiento de Madrid"}
    out = submit(registrar, demo_code, entry_body(destination_unit=None, origin_unit="LA0099901",
                                                   interested=[addressee]), kind="exits")
    assert out.status_code == 201, out.text
    assert out.json()["number"].endswith("/S/000001") and out.json()["kind"] == "S"


def _assert_visible_seal(pdf: bytes) -> None:
    """The receipt's signature field is a visible widget with an appearance stream."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf))
    fields = [f.get_object() for f in reader.root["/AcroForm"]["/Fields"]]
    sigs = [f for f in fields if f.get("/FT") == "/Sig"]
    assert len(sigs) == 1
    widget = sigs[0]
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    assert x2 - x1 > 50 and y2 - y1 > 20
    appearance = widget["/AP"]["/N"].get_object()
    assert len(appearance.data) > 0


def test_receipt_states_names_in_any_latin_script_exactly(
    ctx: Context, registrar: httpx.Client, demo_code: str, tmp_path: Any,
    monkeypatch: Any,
) -> None:
    name = "Łukasz Ștefan Øvergård"
    body = entry_body(subject="Solicitud de Œuvre — «Ĳsselmeer»",
                      presenter={"id_type": "PASAPORTE", "id_number": "PL1234567", "name": name})
    r = submit(registrar, demo_code, body)
    assert r.status_code == 201, r.text
    path = tmp_path / "receipt.pdf"
    path.write_bytes(registrar.get(r.json()["receipt"]["pdf"]).content)
    text = subprocess.run([require_tool("pdftotext"), str(path), "-"], capture_output=True,
                          text=True).stdout
    assert name in text and "Solicitud de Œuvre — «Ĳsselmeer»" in text
    assert "?" not in text.replace(r.json()["receipt"]["verification_code"], "")

    # A character the receipt's fonts lack is refused, never printed as a substitute.
    before = registrar.get(f"/registry/{demo_code}/entries").json()["entries"]
    assert [e["id"] for e in before] == [r.json()["id"]]
    cjk = submit(registrar, demo_code, entry_body(
        presenter={"id_type": "PASAPORTE", "id_number": "CN7654321", "name": "王小明"}))
    assert cjk.status_code == 422 and cjk.json()["code"] == "receipt_text_unprintable"
    assert registrar.get(f"/registry/{demo_code}/entries").json()["entries"] == before

    # Without the fonts, text beyond Windows-1252 gets no receipt (and so no
    # registration); Spanish text is still printed exactly in the standard fonts.
    from registry import receiptpdf

    receiptpdf._font_file.cache_clear()
    monkeypatch.setattr(receiptpdf, "stamp_font", lambda: None)
    try:
        missing = submit(registrar, demo_code, body)
        assert missing.status_code == 503 and missing.json()["code"] == "receipt_font_missing"
        assert registrar.get(f"/registry/{demo_code}/entries").json()["entries"] == before
        spanish = "José Ñúñez Güell"
        plain = submit(registrar, demo_code, entry_body(
            presenter={"id_type": "NIF", "id_number": "12345678Z", "name": spanish}))
        assert plain.status_code == 201, plain.text
    finally:
        monkeypatch.undo()
        receiptpdf._font_file.cache_clear()
    path.write_bytes(registrar.get(plain.json()["receipt"]["pdf"]).content)
    text = subprocess.run([require_tool("pdftotext"), str(path), "-"], capture_output=True,
                          text=True).stdout
    assert spanish in text and b"/BaseFont /Courier" in path.read_bytes()
