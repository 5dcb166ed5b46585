"""A worker killed with SIGKILL in the middle of a registration leaves nothing behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from api.context import Context
from api.settings import Settings
from identity.sessions import SESSION_COOKIE
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.registry.conftest import principal, submit
from tests.registry.workers import uvicorn_workers

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_REDIS_URL),
    reason="needs PostgreSQL and Redis (a separate worker process shares them)",
)


def _counts(ctx: Context) -> dict[str, int]:
    """Rows of every registry table, and the numbers and log size handed out so far."""
    with ctx.engine.connect() as conn:
        counts = {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                  for t in ("registry_entry", "registry_attachment", "registry_event",
                            "registry_party", "registry_counter", "registry_log_leaf",
                            "registry_log_node", "registry_log_checkpoint")}
        for name, query in (
            ("numbers issued", "SELECT coalesce(sum(last), 0) FROM registry_counter"),
            ("log head size", "SELECT coalesce(sum(size), 0) FROM registry_log_head"),
        ):
            counts[name] = int(conn.execute(text(query)).scalar_one())
    return counts


def _waiting_on_event_insert(engine: Engine) -> bool:
    # A fresh connection each time: pg_stat_activity is a snapshot within a transaction.
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE 'INSERT INTO registry_event %'"
        )).scalar_one())


def test_sigkill_mid_registration_burns_no_number(
    ctx: Context, live: Any, settings: Settings, demo_code: str
) -> None:
    sid = ctx.login_sessions.open(principal(demo_code))
    before = _counts(ctx)
    blocker = create_engine(settings.resolved_database_url)
    with uvicorn_workers(settings, 1) as (url, proc), blocker.connect() as conn:
        # Hold the event table so that the registration stops after it has taken its
        # number, written the entry, appended the log leaf and sealed the receipt.
        tx = conn.begin()
        conn.execute(text("LOCK TABLE registry_event IN EXCLUSIVE MODE"))
        outcome: dict[str, Any] = {}

        def post() -> None:
            try:
                with httpx.Client(base_url=url, timeout=120,
                                  cookies={SESSION_COOKIE: sid}) as c:
                    outcome["response"] = submit(c, demo_code)
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        request = threading.Thread(target=post)
        request.start()
        deadline = time.monotonic() + 120
        while not _waiting_on_event_insert(blocker):
            assert time.monotonic() < deadline, f"the registration never blocked: {outcome}"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        tx.rollback()
        request.join(timeout=30)
    blocker.dispose()
    assert "error" in outcome  # the client saw the connection drop, never a receipt
    # PostgreSQL notices the dead connection and rolls its transaction back.
    deadline = time.monotonic() + 30
    while _counts(ctx) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _counts(ctx) == before

    # The next registration gets number 1: nothing was burnt.
    with uvicorn_workers(settings, 1) as (url, _), httpx.Client(
        base_url=url, timeout=120, cookies={SESSION_COOKIE: sid}
    ) as c:
        r = submit(c, demo_code)
    assert r.status_code == 201 and r.json()["sequence"] == 1
