"""The auditor against registrations made through the real registry API (sealed
receipts, attachments, a rectification and an annulment), then against the same
registry after rows of ``registry_entry`` were deleted, edited or swapped in SQL."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.context import Context
from registry import merkle
from registry.checkpoint import Verifier, open_note, parse_checkpoint
from tests.conftest import LiveServer
from tests.registry.conftest import entry_body, submit
from tests.registry.test_audit import codes, run_audit


def _exit_body() -> dict[str, Any]:
    return entry_body(destination_unit=None, origin_unit="LA0099901",
                      interested=[{"id_type": "NIF", "id_number": "12345678Z",
                                   "name": "Destinataria"}])


@pytest.fixture
def through_api(registrar: httpx.Client, citizen: httpx.Client, demo_code: str,
                ctx: Context, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Leaves 0-5: E1 (with attachment) E2 S1 E3 S2 E4; 6: E5 rectifies E1; 7: annuls E2."""
    monkeypatch.setattr(ctx.registry_log, "timestamp_interval", 0)
    made = [submit(citizen, demo_code, files=[("nota.txt", b"hola", "text/plain")]).json(),
            submit(citizen, demo_code).json(),
            submit(registrar, demo_code, _exit_body(), kind="exits").json(),
            submit(citizen, demo_code).json(),
            submit(registrar, demo_code, _exit_body(), kind="exits").json(),
            submit(citizen, demo_code).json()]
    base = f"/registry/{demo_code}/entries"
    fix = {**entry_body(subject="Asunto corregido"), "reason": "error en el asunto"}
    r = registrar.post(f"{base}/{made[0]['id']}/rectification",
                       files=[("entry", (None, json.dumps(fix)))])
    assert r.status_code in (200, 201), r.text
    made.append(r.json())
    r = registrar.post(f"{base}/{made[1]['id']}/annulment", json={"reason": "Duplicada"})
    assert r.status_code == 200, r.text
    return made


def test_real_registrations_pass_the_audit_and_receipts_match_the_log(
    live: LiveServer, ctx: Context, through_api: list[dict[str, Any]], demo_code: str
) -> None:
    code, report, output = run_audit(live, demo_code, "--tsa-root", str(ctx.pki.root_path))
    assert code == 0, output
    assert report["size"] == 8 and report["timestamps"] == 8
    assert sorted(report["series"].values()) == [2, 5]
    with httpx.Client(base_url=live.url) as anyone:
        key = Verifier.parse(anyone.get(f"/registry/{demo_code}/log/key").json()["verifier_key"])
        leaves = anyone.get(f"/registry/{demo_code}/log/leaves").json()["leaves"]
        for entry in through_api:
            i = entry["receipt"]["leaf_index"]
            with ctx.transaction() as s:
                bundle = ctx.registry_log.proof_bundle(s, demo_code, i)
            cp = parse_checkpoint(open_note(bundle["checkpoint"]["note"], key))
            assert f'"entry":"{entry["id"]}"' in leaves[i]["data"]
            merkle.verify_inclusion(
                merkle.leaf_hash(leaves[i]["data"].encode()), i, cp.size,
                [base64.b64decode(h) for h in bundle["inclusion_proof"]], cp.root)


def _sql(ctx: Context, *statements: str, **params: Any) -> None:
    with ctx.engine.begin() as conn:
        if ctx.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        for stmt in statements:
            conn.execute(text(stmt), params)


@pytest.mark.parametrize("tamper", ["delete", "edit", "swap", "party", "rectification_event",
                                    "rectification_target"])
def test_rows_changed_in_the_database_are_caught(
    live: LiveServer, ctx: Context, through_api: list[dict[str, Any]], demo_code: str,
    tamper: str,
) -> None:
    e2, e3 = through_api[1]["id"], through_api[3]["id"]
    if tamper == "delete":
        _sql(ctx, "DELETE FROM registry_event WHERE entry_id = :id",
             "DELETE FROM registry_attachment WHERE entry_id = :id",
             "DELETE FROM registry_party WHERE entry_id = :id",
             "DELETE FROM registry_entry WHERE id = :id", id=e3)
        expected = {"entry_missing": {3}}
    elif tamper == "edit":
        _sql(ctx, "UPDATE registry_entry SET subject = 'Otro asunto' WHERE id = :id", id=e3)
        expected = {"entry_mismatch": {3}}
    elif tamper == "party":
        # Someone else is made a party of E3, so that they could open it.
        _sql(ctx, "INSERT INTO registry_party (entry_id, municipality_code, party_key) "
                  "VALUES (:id, :m, 'id:99999999R')", id=e3, m=demo_code)
        expected = {"entry_mismatch": {3}}
    elif tamper == "rectification_event":
        _sql(ctx, "DELETE FROM registry_event WHERE entry_id = :id AND kind = 'rectification'",
             id=through_api[6]["id"])
        expected = {"entry_mismatch": {6}}
    elif tamper == "rectification_target":
        _sql(ctx, "UPDATE registry_event SET related_id = :other WHERE entry_id = :id",
             id=through_api[6]["id"], other=e3)
        expected = {"entry_mismatch": {6}}
    else:
        # E2 (leaf 1) and E3 (leaf 3) exchange their numbers and leaves.
        _sql(ctx, "UPDATE registry_entry SET number = -number, leaf_index = -leaf_index - 9 "
                  "WHERE id IN (:a, :b)",
             "UPDATE registry_entry SET number = 3, leaf_index = 3 WHERE id = :a",
             "UPDATE registry_entry SET number = 2, leaf_index = 1 WHERE id = :b", a=e2, b=e3)
        expected = {"entry_mismatch": {1, 3, 7}}
    code, report, output = run_audit(live, demo_code)
    assert code == 1, output
    assert codes(report) == set(expected), output
    for name, indexes in expected.items():
        assert {p["index"] for p in report["problems"] if p["code"] == name} == indexes
