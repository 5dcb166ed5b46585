"""Registering entries and exits over HTTP, with sealed receipts."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.registry.conftest import entry_body, minimal_pdf, submit


def test_citizen_entry_gets_number_instants_and_sealed_receipt(
    citizen: httpx.Client, demo_code: str
) -> None:
    pdf = minimal_pdf("Plano de la cocina")
    r = submit(citizen, demo_code, files=[("plano.pdf", pdf, "application/pdf"),
                                          ("nota.txt", b"hola", "text/plain")])
    assert r.status_code == 201, r.text
    e: dict[str, Any] = r.json()
    assert e["number"].endswith("/E/000001") and e["sequence"] == 1
    assert e["presenter"]["id_number"] == "12345678Z"
    assert e["interested"] == [{"id_type": "NIF", "id_number": "12345678Z",
                                "name": "María García López"}]
    assert [a["sha256"] for a in e["attachments"]] == [
        hashlib.sha256(pdf).hexdigest(), hashlib.sha256(b"hola").hexdigest()]
    receipt = citizen.get(e["receipt"]["pdf"])
    assert receipt.status_code == 200
    assert receipt.content.startswith(b"%PDF-")
    assert hashlib.sha256(receipt.content).hexdigest() == e["receipt"]["pdf_sha256"]
    xml = citizen.get(e["receipt"]["xml"])
    assert b"Signature" in xml.content and e["number"].encode() in xml.content
