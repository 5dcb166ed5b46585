"""Shared fixtures.

The suite runs on the embedded defaults (SQLite, in-process state) unless
``ELOCAL_TEST_DATABASE_URL`` / ``ELOCAL_TEST_REDIS_URL`` point at real servers. A
variable that is set but unreachable is an error, never a skip.

One database and one demo PKI are built per session; before each test the
database is restored to the post-initialisation snapshot and the state store is
emptied, so tests are independent without paying for key generation each time.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url

import api.models  # noqa: F401
from api.app import create_app
from api.context import Context
from api.demo import DEMO_CODE, SECOND_CODE, initialise
from api.settings import Settings
from infra.db import Base
from infra.state import MemoryStateStore, RedisStateStore

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

TEST_DATABASE_URL = os.environ.get("ELOCAL_TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("ELOCAL_TEST_REDIS_URL") or None


def shared_path(*parts: str) -> Path:
    """A path in ../shared; fails (not skips) with a clear message when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"reference material missing: {path} (tests expect ../shared beside the repo)")
    return path


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """Path of an external tool (openssl, pdfsig, xmlsec1, nginx, node…).

    Missing in CI is a failure: ``.ci/run`` installs every tool the suite uses. On a
    bare developer machine the test is skipped with the package to install.
    """
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if path is None:
        message = f"{name} is not installed (see .ci/run for the Debian packages)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_schema_url(url: str) -> str:
    """A private schema per test session, so that concurrent runs never collide."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    u = make_url(url)
    return u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def http_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, http_port: int) -> Settings:
    data_dir = tmp_path_factory.mktemp("elocal-data")
    database_url = _pg_schema_url(TEST_DATABASE_URL) if TEST_DATABASE_URL else None
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        redis_prefix=f"elocal-test-{uuid.uuid4().hex[:8]}:",
        http_port=http_port,
        https_port=free_port(),
        public_url=f"http://127.0.0.1:{http_port}",
        trusted_proxies=["127.0.0.2/32"],
    )


class _Snapshot:
    """Rows of every table right after initialisation, restored before each test."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        with ctx.engine.connect() as conn:
            self.rows = {
                t.name: [dict(r._mapping) for r in conn.execute(select(t))]
                for t in Base.metadata.sorted_tables
            }

    def restore(self) -> None:
        engine = self.ctx.engine
        tables = Base.metadata.sorted_tables
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for t in reversed(tables):
                    conn.execute(delete(t))
            for t in tables:
                if self.rows[t.name]:
                    conn.execute(insert(t), self.rows[t.name])
            if engine.dialect.name == "postgresql":
                for t in tables:
                    for col in t.primary_key.columns:
                        if col.autoincrement is True or (
                            col.autoincrement == "auto" and col.type.python_type is int
                            and len(t.primary_key.columns) == 1
                        ):
                            conn.execute(text(
                                f"SELECT setval(pg_get_serial_sequence('\"{t.name}\"', "
                                f"'{col.name}'), COALESCE((SELECT MAX(\"{col.name}\") "
                                f"FROM \"{t.name}\"), 0) + 1, false)"
                            ))


def _clear_state(ctx: Context) -> None:
    store = ctx.state
    if isinstance(store, MemoryStateStore):
        with store._lock:
            store._data.clear()
    elif isinstance(store, RedisStateStore):
        for key in store._redis.scan_iter(match=store._prefix + "*", count=1000):
            store._redis.delete(key)


@pytest.fixture(scope="session")
def session_ctx(settings: Settings) -> Iterator[Context]:
    ctx = Context(settings)
    ctx.state.ping()  # an unreachable configured Redis fails the run here
    initialise(ctx, demo=True)
    ctx.snapshot = _Snapshot(ctx)  # type: ignore[attr-defined]
    yield ctx
    _clear_state(ctx)
    ctx.close()


def _quiesce(ctx: Context) -> None:
    """Let the registry log's background time-stamping finish before tables are reset:
    a stamp still writing while ``TRUNCATE`` runs deadlocks on PostgreSQL."""
    for _ in range(3):
        ctx.registry_log.cancel_pending()
        timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
        if not timers:
            return
        for timer in timers:
            timer.join(timeout=30)


@pytest.fixture
def ctx(session_ctx: Context) -> Context:
    _quiesce(session_ctx)
    session_ctx.snapshot.restore()  # type: ignore[attr-defined]
    _clear_state(session_ctx)
    return session_ctx


@pytest.fixture
def app(ctx: Context) -> Any:
    return create_app(ctx=ctx, migrate=False)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


class LiveServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def live_server(session_ctx: Context, settings: Settings) -> Iterator[LiveServer]:
    """The app on a real socket (uvicorn in a thread), at ``settings.public_url``.

    Certificates of the demo PKI point their AIA and CRL distribution points here,
    so that OCSP and CRL fetching run over real HTTP.
    """
    app = create_app(ctx=session_ctx, migrate=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.http_port, log_level="warning",
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield LiveServer(settings.public_url)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live(live_server: LiveServer, ctx: Context) -> LiveServer:
    """The live server, with the per-test database and state reset applied."""
    return live_server


@pytest.fixture
def demo_code() -> str:
    return DEMO_CODE


@pytest.fixture
def second_code() -> str:
    return SECOND_CODE
