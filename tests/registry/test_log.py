"""The registry log through its public API: checkpoints, leaves and proofs verify with
nothing but the served key, bad requests get problem documents, and concurrent
registrations get distinct, gapless leaf indexes from the database."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.context import Context
from infra.dir3 import municipality_code
from registry import log as registry_log
from registry import merkle
from registry.checkpoint import CheckpointError, Verifier, open_note, parse_checkpoint
from registry.models import RegistryEntry
from tests.registry.logdata import annul, register

OFFICE = "O00099901"


def _b(items: list[str]) -> list[bytes]:
    return [base64.b64decode(x) for x in items]


def _signed(client: TestClient, code: str) -> tuple[Verifier, Any]:
    key = client.get(f"/registry/{code}/log/key").json()
    verifier = Verifier.parse(key["verifier_key"])
    assert verifier.fingerprint == key["fingerprint"]
    latest = client.get(f"/registry/{code}/log/checkpoint").json()
    return verifier, parse_checkpoint(open_note(latest["note"], verifier))


def test_every_event_is_a_leaf_and_every_proof_verifies(
    client: TestClient, ctx: Context, demo_code: str
) -> None:
    entries = [register(ctx, demo_code, OFFICE, kind) for kind in "EESESEE"]
    annul(ctx, entries[1])
    register(ctx, demo_code, OFFICE, "E", rectifies=entries[0].id)
    verifier, cp = _signed(client, demo_code)
    assert cp.origin.endswith(f"/registry/{demo_code}") and cp.size == 9

    leaves = client.get(f"/registry/{demo_code}/log/leaves", params={"start": 0}).json()
    assert [x["index"] for x in leaves["leaves"]] == list(range(9))
    hashes = [merkle.leaf_hash(x["data"].encode()) for x in leaves["leaves"]]
    assert merkle.root_from_leaf_hashes(hashes) == cp.root
    events = [x["data"] for x in leaves["leaves"]]
    assert '"event":"annulment"' in events[7] and '"event":"rectification"' in events[8]
    # No personal data in clear: names and NIFs are only inside digests.
    assert not any("Pérez" in e or "12345678Z" in e for e in events)

    for i, h in enumerate(hashes):
        proof = client.get(f"/registry/{demo_code}/log/proof/inclusion",
                           params={"index": i, "size": 9}).json()
        merkle.verify_inclusion(h, i, 9, _b(proof["hashes"]), cp.root)

    listed = client.get(f"/registry/{demo_code}/log/checkpoints").json()["checkpoints"]
    assert [c["size"] for c in listed] == list(range(1, 10))
    roots = {}
    for c in listed:
        body = parse_checkpoint(open_note(c["note"], verifier))
        assert body.size == c["size"] and body.root == base64.b64decode(c["root"])
        assert body.root == merkle.root_from_leaf_hashes(hashes[:body.size])
        roots[body.size] = body.root
    for first in range(1, 10):
        proof = client.get(f"/registry/{demo_code}/log/proof/consistency",
                           params={"first": first, "second": 9}).json()
        merkle.verify_consistency(first, 9, roots[first], roots[9], _b(proof["hashes"]))

    note = client.get(f"/registry/{demo_code}/log/checkpoint.txt")
    assert note.headers["content-type"].startswith("text/plain")
    assert open_note(note.text, verifier) == cp.text()


def test_receipt_bundle_carries_index_checkpoint_and_path(ctx: Context, demo_code: str) -> None:
    for _ in range(6):
        register(ctx, demo_code, OFFICE)
    with ctx.transaction() as s:
        bundle = ctx.registry_log.proof_bundle(s, demo_code, 3)
        data = registry_log.leaves(s, demo_code, 3, 4)[0].data
    verifier = Verifier.parse(bundle["key"])
    cp = parse_checkpoint(open_note(bundle["checkpoint"]["note"], verifier))
    assert bundle["leaf_index"] == 3 and cp.size == 4  # the first checkpoint that covers it
    merkle.verify_inclusion(merkle.leaf_hash(data.encode()), 3, cp.size,
                            _b(bundle["inclusion_proof"]), cp.root)


def test_logs_are_separate_per_municipality(
    client: TestClient, ctx: Context, demo_code: str, second_code: str
) -> None:
    register(ctx, demo_code, OFFICE)
    register(ctx, demo_code, OFFICE)
    other = register(ctx, second_code, "O00099801")
    assert other.leaf_index == 0
    v1, cp1 = _signed(client, demo_code)
    _, cp2 = _signed(client, second_code)
    assert (cp1.size, cp2.size) == (2, 1) and cp1.origin != cp2.origin
    foreign = client.get(f"/registry/{second_code}/log/checkpoint").json()["note"]
    with pytest.raises(CheckpointError):
        open_note(foreign, v1)


def test_a_rolled_back_registration_leaves_no_leaf(ctx: Context, demo_code: str) -> None:
    register(ctx, demo_code, OFFICE)
    with pytest.raises(RuntimeError), ctx.transaction() as s:
        ctx.registry_log.append(s, demo_code, {"event": "registration", "n": 2})
        raise RuntimeError("the seal failed")
    nxt = register(ctx, demo_code, OFFICE)
    assert nxt.leaf_index == 1 and nxt.number == 2


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("proof/inclusion", {"index": 3, "size": 3}, 422, "log_index_out_of_range"),
    ("proof/inclusion", {"index": 0, "size": 4}, 422, "log_index_out_of_range"),
    ("proof/inclusion", {"index": -1, "size": 2}, 422, None),
    ("proof/inclusion", {"index": "x", "size": 2}, 422, None),
    ("proof/consistency", {"first": 3, "second": 2}, 422, "log_index_out_of_range"),
    ("proof/consistency", {"first": 0, "second": 2}, 422, None),
    ("proof/consistency", {"first": 1, "second": 9}, 422, "log_index_out_of_range"),
    ("leaves", {"start": 2, "end": 1}, 422, "log_index_out_of_range"),
    ("leaves", {"start": 2**60}, 422, None),
])
def test_bad_requests_get_problem_documents(
    client: TestClient, ctx: Context, demo_code: str, path: str, params: dict[str, Any],
    status: int, code: str | None,
) -> None:
    for _ in range(3):
        register(ctx, demo_code, OFFICE)
    resp = client.get(f"/registry/{demo_code}/log/{path}", params=params)
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/problem+json")
    if code:
        assert resp.json()["code"] == code


def test_unknown_municipality_and_empty_log(client: TestClient, demo_code: str) -> None:
    resp = client.get(f"/registry/{municipality_code('28997')}/log/checkpoint")
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_municipality"
    resp = client.get(f"/registry/{demo_code}/log/checkpoint")
    assert resp.status_code == 404 and resp.json()["code"] == "log_no_checkpoint"
    assert client.get(f"/registry/{demo_code}/log/leaves").json()["leaves"] == []


def test_leaf_pages_are_bounded(
    client: TestClient, ctx: Context, demo_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(7):
        register(ctx, demo_code, OFFICE)
    monkeypatch.setattr(registry_log, "MAX_LEAF_PAGE", 3)
    page = client.get(f"/registry/{demo_code}/log/leaves", params={"start": 1, "end": 7}).json()
    assert [x["index"] for x in page["leaves"]] == [1, 2, 3] and page["size"] == 7
    resp = client.get(f"/registry/{demo_code}/log/checkpoints", params={"limit": 100000})
    assert resp.status_code == 422


def test_concurrent_registrations_get_gapless_indexes(ctx: Context, demo_code: str) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(8):
                register(ctx, demo_code, OFFICE, "ES"[i % 2])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with ctx.transaction() as s:
        indexes = sorted(s.scalars(select(RegistryEntry.leaf_index)))
        assert indexes == list(range(64))
        assert registry_log.tree_size(s, demo_code) == 64
        data = [x.data for x in registry_log.leaves(s, demo_code, 0, 64)]
        cp = registry_log.latest_checkpoint(s, demo_code)
        count = s.scalar(select(func.count()).select_from(registry_log.LogCheckpoint))
    assert cp.size == 64 and count == 64
    assert cp.root == merkle.root_from_leaf_hashes([merkle.leaf_hash(d.encode()) for d in data])


def test_checkpoint_timestamps_verify_with_openssl(
    client: TestClient, ctx: Context, demo_code: str, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess

    from tests.conftest import require_tool

    openssl = require_tool("openssl")
    monkeypatch.setattr(ctx.registry_log, "timestamp_interval", 0)
    register(ctx, demo_code, OFFICE)
    register(ctx, demo_code, OFFICE)
    latest = client.get(f"/registry/{demo_code}/log/checkpoint").json()
    (tmp_path / "note").write_text(latest["note"], encoding="utf-8", newline="")
    (tmp_path / "token").write_bytes(base64.b64decode(latest["timestamp"]))
    cmd = [openssl, "ts", "-verify", "-data", str(tmp_path / "note"), "-in",
           str(tmp_path / "token"), "-token_in", "-CAfile", str(ctx.pki.root_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stderr
    # The same token does not cover another checkpoint.
    first = client.get(f"/registry/{demo_code}/log/checkpoints").json()["checkpoints"][0]
    (tmp_path / "note").write_text(first["note"], encoding="utf-8", newline="")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_checkpoints_are_time_stamped_once_per_interval(
    client: TestClient, ctx: Context, demo_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.registry_log, "timestamp_interval", 3600)
    for _ in range(4):
        register(ctx, demo_code, OFFICE)
    listed = client.get(f"/registry/{demo_code}/log/checkpoints").json()["checkpoints"]
    assert [c["timestamp"] is not None for c in listed] == [True, False, False, False]
    monkeypatch.setattr(ctx.registry_log, "timestamp_interval", 0)
    register(ctx, demo_code, OFFICE)
    register(ctx, demo_code, OFFICE)
    listed = client.get(f"/registry/{demo_code}/log/checkpoints").json()["checkpoints"]
    assert [c["timestamp"] is not None for c in listed] == [True, False, False, False, True, True]
    # A rolled-back registration costs no token and stamps nothing.
    with pytest.raises(RuntimeError), ctx.transaction() as s:
        ctx.registry_log.append(s, demo_code, {"event": "registration"})
        ctx.registry_log.checkpoint(s, demo_code)
        raise RuntimeError("the seal failed")
    assert len(client.get(f"/registry/{demo_code}/log/checkpoints").json()["checkpoints"]) == 6


def test_an_oversized_leaf_is_refused_and_leaves_nothing(ctx: Context, demo_code: str) -> None:
    with pytest.raises(ValueError, match="exceeds"), ctx.transaction() as s:
        ctx.registry_log.append(s, demo_code, {"event": "registration",
                                               "pad": "x" * registry_log.MAX_LEAF_BYTES})
    with ctx.transaction() as s:
        assert registry_log.tree_size(s, demo_code) == 0


def test_batched_proofs_match_single_ones_and_are_bounded(
    client: TestClient, ctx: Context, demo_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(7):
        register(ctx, demo_code, OFFICE)
    base = f"/registry/{demo_code}/log"
    batch = client.get(f"{base}/proofs/inclusion", params={"size": 7}).json()["proofs"]
    assert [p["index"] for p in batch] == list(range(7))
    for p in batch:
        single = client.get(f"{base}/proof/inclusion", params={"index": p["index"], "size": 7})
        assert single.json()["hashes"] == p["hashes"]
    batch = client.get(f"{base}/proofs/consistency", params={"second": 7}).json()["proofs"]
    assert [p["first"] for p in batch] == list(range(1, 8))
    for p in batch:
        single = client.get(f"{base}/proof/consistency", params={"first": p["first"],
                                                                  "second": 7})
        assert single.json()["hashes"] == p["hashes"]
    monkeypatch.setattr(registry_log, "MAX_LEAF_PAGE", 2)
    page = client.get(f"{base}/proofs/inclusion", params={"size": 7, "start": 3}).json()
    assert [p["index"] for p in page["proofs"]] == [3, 4]
    page = client.get(f"{base}/proofs/consistency", params={"second": 7, "start": 5}).json()
    assert [p["first"] for p in page["proofs"]] == [5, 6]
    resp = client.get(f"{base}/proofs/inclusion", params={"size": 8})
    assert resp.status_code == 422 and resp.json()["code"] == "log_index_out_of_range"
