"""``elocal registry audit`` against a live server: a clean registry passes, and each
kind of tampering done directly in the database is reported with its own code."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from api.cli import app
from api.context import Context
from api.demo import DEMO_CODE
from tests.conftest import LiveServer
from tests.registry.logdata import annul, register

OFFICE = "O00099901"


def run_audit(live: LiveServer, code: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    args = ["registry", "audit", "--url", live.url, "--municipality", code, "--json",
            "--workers", "1", *extra]
    result = CliRunner().invoke(app, args)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {}
    return result.exit_code, report, result.output


def codes(report: dict[str, Any]) -> set[str]:
    return {p["code"] for p in report["problems"]}


def at(report: dict[str, Any], code: str) -> set[int | None]:
    return {p["index"] for p in report["problems"] if p["code"] == code}


@pytest.fixture
def populated(ctx: Context, demo_code: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Leaves 0-9: E1 E2 S1 E3 E4 S2 E5 E6 E7 S3; 10: annuls S1; 11: E8 rectifies E1.

    Every checkpoint is time-stamped, so that each one's token can be tampered with.
    """
    monkeypatch.setattr(ctx.registry_log, "timestamp_interval", 0)
    entries = [register(ctx, demo_code, OFFICE, kind) for kind in "EESEESEEES"]
    annul(ctx, entries[2])
    entries.append(register(ctx, demo_code, OFFICE, "E", rectifies=entries[0].id))
    return entries


def test_a_clean_registry_passes(live: LiveServer, populated: list[Any], demo_code: str) -> None:
    code, report, output = run_audit(live, demo_code)
    assert code == 0, output
    assert report["ok"] and report["size"] == 12 and report["checkpoints"] == 12
    year = populated[0].year
    assert report["series"] == {f"{OFFICE}/{year}/E": 8, f"{OFFICE}/{year}/S": 3}
    text_run = CliRunner().invoke(app, ["registry", "audit", "--url", live.url,
                                           "--municipality", demo_code])
    assert text_run.exit_code == 0 and "audit passed" in text_run.stdout
    assert report["fingerprint"] in text_run.stdout


def _sql(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        for stmt in statements:
            conn.execute(text(stmt), params)


def _entry_at(engine: Engine, index: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT id FROM registry_entry WHERE leaf_index = :i"),
                                {"i": index}).scalar_one())


def delete_leaf(e: Engine) -> None:
    _sql(e, "DELETE FROM registry_log_leaf WHERE leaf_index = 4")


def edit_leaf(e: Engine) -> None:
    _sql(e, "UPDATE registry_log_leaf SET data = replace(data, :a, :b) WHERE leaf_index = 4",
         a='"number":4', b='"number":3')


def swap_leaves(e: Engine) -> None:
    _sql(e, "UPDATE registry_log_leaf SET leaf_index = -1 WHERE leaf_index = 3",
            "UPDATE registry_log_leaf SET leaf_index = 3 WHERE leaf_index = 5",
            "UPDATE registry_log_leaf SET leaf_index = 5 WHERE leaf_index = -1")


def delete_entry(e: Engine) -> None:
    victim = _entry_at(e, 4)
    _sql(e, "DELETE FROM registry_event WHERE entry_id = :id",
            "DELETE FROM registry_attachment WHERE entry_id = :id",
            "DELETE FROM registry_party WHERE entry_id = :id",
            "DELETE FROM registry_entry WHERE id = :id", id=victim)


def edit_entry(e: Engine) -> None:
    _sql(e, "UPDATE registry_entry SET subject = 'Otro asunto' WHERE id = :id",
         id=_entry_at(e, 4))


def swap_entries(e: Engine) -> None:
    a, b = _entry_at(e, 3), _entry_at(e, 4)
    _sql(e, "UPDATE registry_entry SET number = -number, leaf_index = -leaf_index - 100 "
            "WHERE id IN (:a, :b)",
         "UPDATE registry_entry SET number = 4, leaf_index = 4 WHERE id = :a",
         "UPDATE registry_entry SET number = 3, leaf_index = 3 WHERE id = :b", a=a, b=b)


def forge_checkpoint(e: Engine) -> None:
    _sql(e, "UPDATE registry_log_checkpoint SET note = replace(note, :a, :b) WHERE size = 7",
         a="\n7\n", b="\n8\n")


def swap_timestamps(e: Engine) -> None:
    _sql(e, 'UPDATE registry_log_checkpoint SET "timestamp" = (SELECT "timestamp" FROM '
            "registry_log_checkpoint WHERE size = 4) WHERE size = 5")


def rewrite_history(e: Engine) -> None:
    """Edit a leaf *and* every stored hash above it: only the signatures can tell."""
    from registry import merkle

    with e.begin() as conn:
        rows = conn.execute(text("SELECT leaf_index, data FROM registry_log_leaf "
                                 "ORDER BY leaf_index")).all()
        data = [d.replace('"number":2', '"number":9') if i == 1 else d for i, d in rows]
        compact = merkle.CompactRange()
        conn.execute(text("DELETE FROM registry_log_node"))
        for i, d in enumerate(data):
            h = merkle.leaf_hash(d.encode())
            conn.execute(text("UPDATE registry_log_leaf SET data = :d, leaf_hash = :h "
                              "WHERE leaf_index = :i"), {"d": d, "h": h.hex(), "i": i})
            for level, idx, node in compact.append(h):
                conn.execute(text("INSERT INTO registry_log_node VALUES (:m, :l, :x, :h)"),
                             {"m": DEMO_CODE, "l": level, "x": idx, "h": node.hex()})


TAMPERING: list[tuple[Callable[[Engine], None], set[str], dict[str, set[int | None]]]] = [
    (delete_leaf, {"leaf_missing", "root_mismatch"}, {"leaf_missing": {4}}),
    (edit_leaf, {"inclusion_proof_failed", "root_mismatch", "number_duplicate", "number_gap",
                 "entry_mismatch"},
     {"inclusion_proof_failed": {4}, "entry_mismatch": {4}}),
    (swap_leaves, {"inclusion_proof_failed", "root_mismatch", "number_reordered",
                   "entry_mismatch"},
     {"entry_mismatch": {3, 5}}),
    (delete_entry, {"entry_missing"}, {"entry_missing": {4}}),
    (edit_entry, {"entry_mismatch"}, {"entry_mismatch": {4}}),
    (swap_entries, {"entry_mismatch"}, {"entry_mismatch": {3, 4}}),
    (forge_checkpoint, {"checkpoint_signature_invalid"}, {}),
    (swap_timestamps, {"timestamp_mismatch"}, {}),
    (rewrite_history, {"root_mismatch", "inclusion_proof_failed", "entry_mismatch"},
     {"entry_mismatch": {1}}),
]


@pytest.mark.parametrize(("tamper", "expected", "where"), TAMPERING,
                         ids=[t[0].__name__ for t in TAMPERING])
def test_tampering_is_reported(
    live: LiveServer, ctx: Context, populated: list[Any], demo_code: str,
    tamper: Callable[[Engine], None], expected: set[str], where: dict[str, set[int | None]],
) -> None:
    tamper(ctx.engine)
    code, report, output = run_audit(live, demo_code)
    assert code == 1, output
    assert expected <= codes(report), output
    for problem, indexes in where.items():
        assert at(report, problem) == indexes, output


def test_timestamps_chain_to_the_given_tsa_root(
    live: LiveServer, ctx: Context, populated: list[Any], demo_code: str, tmp_path: Any
) -> None:
    code, report, output = run_audit(live, demo_code, "--tsa-root", str(ctx.pki.root_path))
    assert code == 0 and report["timestamps"] == 12, output
    other = tmp_path / "other-root.pem"
    other.write_bytes(ctx.pki.tls_cert_path.read_bytes())
    code, report, output = run_audit(live, demo_code, "--tsa-root", str(other))
    assert code == 1 and codes(report) == {"timestamp_untrusted"}, output


def test_a_pinned_key_must_match(live: LiveServer, populated: list[Any], demo_code: str,
                                 second_code: str) -> None:
    _, report, _ = run_audit(live, demo_code)
    pinned = report["verifier_key"]
    assert run_audit(live, demo_code, "--key", pinned)[0] == 0
    register_other = run_audit(live, second_code, "--key", pinned)
    assert register_other[0] in (1, 2)
    code, _, output = run_audit(live, demo_code, "--key", "not-a-key")
    assert code == 2 and "bad pinned key" in output


def test_an_unreachable_server_aborts_cleanly(demo_code: str) -> None:
    result = CliRunner().invoke(app, ["registry", "audit", "--url", "http://127.0.0.1:9",
                                         "--municipality", demo_code, "--timeout", "2"])
    assert result.exit_code == 2 and "audit aborted" in result.output


def test_a_kept_checkpoint_exposes_a_consistently_truncated_log(
    live: LiveServer, ctx: Context, demo_code: str, tmp_path: Any
) -> None:
    """Removing the newest entry everywhere (row, leaf, checkpoint, head) leaves a log that
    is consistent with itself; only a checkpoint someone kept can tell."""
    from registry import merkle

    for kind in "EESEE":
        register(ctx, demo_code, OFFICE, kind)
    kept = tmp_path / "kept.note"
    code, _, output = run_audit(live, demo_code, "--save-checkpoint", str(kept))
    assert code == 0 and "\n5\n" in kept.read_text(encoding="utf-8"), output

    victim = _entry_at(ctx.engine, 4)
    with ctx.engine.begin() as conn:
        hashes = [bytes.fromhex(h) for (h,) in conn.execute(text(
            "SELECT leaf_hash FROM registry_log_leaf WHERE leaf_index < 4 ORDER BY leaf_index"))]
        compact = merkle.CompactRange()
        for h in hashes:
            compact.append(h)
        for stmt in ("DELETE FROM registry_event WHERE entry_id = :id",
                     "DELETE FROM registry_entry WHERE id = :id",
                     "DELETE FROM registry_log_leaf WHERE leaf_index = 4",
                     "DELETE FROM registry_log_checkpoint WHERE size = 5",
                     "UPDATE registry_log_head SET size = 4, frontier = :f"):
            conn.execute(text(stmt), {"id": victim,
                                      "f": json.dumps([x.hex() for x in compact.hashes])})
    assert run_audit(live, demo_code)[0] == 0
    code, report, output = run_audit(live, demo_code, "--known-checkpoint", str(kept))
    assert code == 1 and codes(report) == {"log_truncated"}, output


def test_instants_must_not_decrease_along_the_whole_log(
    live: LiveServer, ctx: Context, demo_code: str
) -> None:
    from datetime import timedelta

    first = register(ctx, demo_code, OFFICE, "E")
    # An exit (another series) dated before the entry that precedes it in the log.
    register(ctx, demo_code, OFFICE, "S", at=first.registered_at - timedelta(seconds=5))
    register(ctx, demo_code, OFFICE, "E")
    code, report, output = run_audit(live, demo_code)
    assert code == 1, output
    assert codes(report) == {"instant_decreased"} and at(report, "instant_decreased") == {1}


def test_a_rectification_of_an_annulled_entry_is_reported(
    live: LiveServer, ctx: Context, demo_code: str
) -> None:
    first = register(ctx, demo_code, OFFICE, "E")
    annul(ctx, first)
    register(ctx, demo_code, OFFICE, "E", rectifies=first.id)
    code, report, output = run_audit(live, demo_code)
    assert code == 1, output
    assert codes(report) == {"rectifies_annulled"} and at(report, "rectifies_annulled") == {2}


def test_leaves_logged_in_the_first_format_still_match_their_rows(
    live: LiveServer, ctx: Context, demo_code: str
) -> None:
    register(ctx, demo_code, OFFICE, "E", leaf_version=1)
    register(ctx, demo_code, OFFICE, "E")
    code, _, output = run_audit(live, demo_code)
    assert code == 0, output
    with live.client() as c:
        logged = c.get(f"/registry/{demo_code}/log/leaves").json()["leaves"]
    assert '"v":1' in logged[0]["data"] and "parties_sha256" not in logged[0]["data"]
    assert '"v":2' in logged[1]["data"] and "parties_sha256" in logged[1]["data"]
