"""RFC 3161 time-stamps of the registry log with the default interval: the newest
checkpoint always ends up stamped, a TSA outage is retried and reported by the audit,
and ``elocal registry stamp`` stamps what an outage left behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.context import Context
from api.settings import Settings
from registry import log as registry_log
from tests.conftest import LiveServer
from tests.registry.conftest import submit
from tests.registry.test_audit import codes, run_audit
from tests.registry.test_cli import _elocal


@pytest.fixture(autouse=True)
def no_leftover_retries(ctx: Context) -> Iterator[None]:
    yield
    ctx.registry_log.cancel_pending()


def _checkpoints(client: httpx.Client, code: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get(
        f"/registry/{code}/log/checkpoints").json()["checkpoints"]
    return listed


def test_the_newest_checkpoint_is_stamped_with_the_default_interval(
    live: LiveServer, ctx: Context, citizen: httpx.Client, demo_code: str
) -> None:
    assert ctx.registry_log.timestamp_interval == registry_log.DEFAULT_TIMESTAMP_INTERVAL > 0
    for _ in range(4):
        assert submit(citizen, demo_code).status_code == 201
    deadline = time.monotonic() + 3 * registry_log.DEFAULT_TIMESTAMP_INTERVAL + 5
    while _checkpoints(citizen, demo_code)[-1]["timestamp"] is None:
        assert time.monotonic() < deadline, "the newest checkpoint was never time-stamped"
        time.sleep(0.1)
    listed = _checkpoints(citizen, demo_code)
    assert len(listed) == 4 and listed[0]["timestamp"] is not None
    # Checkpoints skipped within the interval are dated by the later token.
    code, report, output = run_audit(live, demo_code, "--tsa-root", str(ctx.pki.root_path))
    assert code == 0, output
    assert report["timestamps"] >= 2


def test_checkpoints_left_unstamped_are_reported_and_stamped_by_the_command(
    live: LiveServer, ctx: Context, citizen: httpx.Client, demo_code: str,
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def tsa_down(_data: bytes) -> bytes:
        raise ConnectionError("the TSA is unreachable")

    monkeypatch.setattr(ctx.registry_log, "timestamper", tsa_down)
    monkeypatch.setattr(registry_log, "STAMP_RETRIES", 0)
    for _ in range(2):
        # The registration itself does not depend on the log's TSA.
        assert submit(citizen, demo_code).status_code == 201
    assert [c["timestamp"] for c in _checkpoints(citizen, demo_code)] == [None, None]

    code, report, output = run_audit(live, demo_code, "--timestamp-grace", "0")
    assert code == 1, output
    assert codes(report) == {"checkpoint_not_timestamped"}
    assert len(report["problems"]) == 2
    # Within the grace period the same log is still in time.
    code, _, output = run_audit(live, demo_code, "--timestamp-grace", "600")
    assert code == 0, output

    monkeypatch.undo()
    result = _elocal(settings, "stamp", demo_code)
    assert result.returncode == 0, result.stderr
    assert f"{demo_code}: stamped" in result.stdout
    listed = _checkpoints(citizen, demo_code)
    assert listed[-1]["timestamp"] is not None and listed[0]["timestamp"] is None
    code, report, output = run_audit(live, demo_code, "--tsa-root", str(ctx.pki.root_path),
                                     "--timestamp-grace", "60")
    assert code == 0, output
    assert report["timestamps"] == 1
    again = _elocal(settings, "stamp", demo_code)
    assert again.returncode == 0 and f"{demo_code}: already stamped" in again.stdout


def test_tokens_issued_out_of_order_keep_token_times_running_forward(
    live: LiveServer, ctx: Context, citizen: httpx.Client, demo_code: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers stamp at once: the newer checkpoint's token is issued first, the older
    one's is stored first. The log keeps token times in checkpoint order, as the audit
    requires, by asking for a fresh token instead of storing the stale one."""
    real = ctx.registry_log.timestamper
    assert real is not None

    def tsa_down(_data: bytes) -> bytes:
        raise ConnectionError("the TSA is unreachable")

    monkeypatch.setattr(ctx.registry_log, "timestamper", tsa_down)
    monkeypatch.setattr(registry_log, "STAMP_RETRIES", 0)
    for _ in range(2):
        assert submit(citizen, demo_code).status_code == 201
    monkeypatch.setattr(ctx.registry_log, "timestamper", real)
    older, newer = _checkpoints(citizen, demo_code)
    early_token_for_newer = real(newer["note"].encode())
    time.sleep(1.1)  # genTime has whole-second precision at most
    late_token_for_older = real(older["note"].encode())

    store = ctx.registry_log._store_token
    assert store(ctx.engine, demo_code, older["size"], late_token_for_older) is True
    assert store(ctx.engine, demo_code, newer["size"], early_token_for_newer) is None
    assert _checkpoints(citizen, demo_code)[1]["timestamp"] is None
    assert ctx.registry_log.stamp(ctx.engine, demo_code, force=True) is True
    # A token for a checkpoint older than one already stamped adds nothing.
    assert store(ctx.engine, demo_code, older["size"], late_token_for_older) is False
    code, report, output = run_audit(live, demo_code, "--tsa-root", str(ctx.pki.root_path))
    assert code == 0, output
    assert report["timestamps"] == 2
