"""Entries are never altered: rectifications and annulments are new facts with history."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.context import Context
from tests.registry.conftest import entry_body, principal, submit


def test_rectification_annulment_and_history(
    citizen: httpx.Client, registrar: httpx.Client, demo_code: str, live: Any
) -> None:
    original = submit(citizen, demo_code).json()
    base = f"/registry/{demo_code}/entries/{original['id']}"

    # Neither the citizen nor anyone but a registrar can rectify or annul.
    assert citizen.post(f"{base}/annulment", json={"reason": "me equivoqué"}).status_code == 403
    correction = {**entry_body(subject="Solicitud de licencia de obra mayor"),
                  "reason": "El asunto indicaba obra menor por error"}
    r = registrar.post(f"{base}/rectification",
                       files=[("entry", (None, json.dumps(correction)))])
    assert r.status_code == 201, r.text
    fixed = r.json()
    assert fixed["rectifies"] == original["id"] and fixed["sequence"] == 2
    assert fixed["presenter"] == original["presenter"]
    assert fixed["subject"] == "Solicitud de licencia de obra mayor"

    # The original is unchanged: same facts, same sealed receipt.
    again = citizen.get(base).json()
    assert {k: again[k] for k in ("subject", "number", "receipt")} == {
        k: original[k] for k in ("subject", "number", "receipt")}
    # The presenter can open the rectification, too.
    assert citizen.get(f"/registry/{demo_code}/entries/{fixed['id']}").status_code == 200

    assert registrar.post(f"{base}/annulment", json={}).status_code == 422
    r = registrar.post(f"{base}/annulment", json={"reason": "Duplicada"})
    assert r.status_code == 200, r.text
    assert r.json()["actor"]["id_number"] == "00000001R"
    assert registrar.post(f"{base}/annulment", json={"reason": "otra vez"}).status_code == 409
    assert citizen.get(base).json()["annulled"] is True

    events = citizen.get(f"{base}/history").json()["events"]
    assert [e["event"] for e in events] == ["registration", "rectification", "annulment"]
    assert events[1]["number"] == fixed["number"] and events[2]["reason"] == "Duplicada"
    leaves = [e["leaf_index"] for e in events]
    assert leaves == sorted(leaves) and len(set(leaves)) == 3

    # The public check of the receipt shows the annulment, and no personal data.
    with httpx.Client(base_url=live.url) as anyone:
        code = original["receipt"]["verification_code"]
        pub = anyone.get(f"/registry/receipts/{code}").json()
        assert pub["status"] == "annulled" and pub["number"] == original["number"]
        text = str(pub)
        assert "12345678Z" not in text and original["subject"] not in text
        pdf = anyone.get(pub["receipt"]["pdf"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert anyone.get("/registry/receipts/AAAAAAAAAAAAAAAAAAAAAAAA").status_code == 404
        assert anyone.get("/registry/receipts/not-a-code").status_code == 404


def test_an_annulment_that_lands_during_a_rectification_wins(
    ctx: Context, citizen: httpx.Client, registrar: httpx.Client, demo_code: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = submit(citizen, demo_code).json()
    base = f"/registry/{demo_code}/entries/{original['id']}"
    registry = ctx.registry
    validate = registry._validate
    clerk = principal(demo_code, capacity="employee", nif="00000002W", roles=("registrar",))

    def annul_meanwhile(*args: Any) -> Any:
        # Another registrar annuls the entry after the rectification first looked at it.
        monkeypatch.setattr(registry, "_validate", validate)
        registry.annul(clerk, demo_code, original["id"], "Duplicada")
        return validate(*args)

    monkeypatch.setattr(registry, "_validate", annul_meanwhile)
    correction = {**entry_body(subject="Otro asunto"), "reason": "Error en el asunto"}
    r = registrar.post(f"{base}/rectification", files=[("entry", (None, json.dumps(correction)))])
    assert r.status_code == 409 and r.json()["code"] == "registry_entry_annulled", r.text
    events = [e["event"] for e in registrar.get(f"{base}/history").json()["events"]]
    assert events == ["registration", "annulment"]
    listed = registrar.get(f"/registry/{demo_code}/entries").json()["entries"]
    assert [e["id"] for e in listed] == [original["id"]]
