"""Registering entries and exits over HTTP, with sealed receipts."""

from __future__ import annotations

import hashlib
import subprocess
from typing import Any

import httpx
from lxml import etree

from api.context import Context
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
    assert validate(receipt, trust_roots=roots).indication is Indication.TOTAL_PASSED
    assert validate(xml, trust_roots=roots).indication is Indication.TOTAL_PASSED

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
