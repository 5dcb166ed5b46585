"""``elocal db upgrade`` and ``/readyz``: what an operator sees before the first request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

import api.models  # noqa: F401
from api.app import create_app
from api.context import Context
from api.settings import Settings
from infra.db import Base
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELOCAL_")}
    env["ELOCAL_DATA_DIR"] = str(data_dir)
    return env


def _readyz(settings: Settings) -> tuple[int, dict[str, str]]:
    ctx = Context(settings)
    try:
        with TestClient(create_app(ctx=ctx, migrate=False)) as c:
            r = c.get("/readyz")
        return r.status_code, r.json()["checks"]
    finally:
        ctx.close()


def test_db_upgrade_builds_the_schema_the_models_describe(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "api.cli", "db", "upgrade"], cwd=REPO,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'elocal.db'}")
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
    assert _readyz(Settings(data_dir=tmp_path)) == (200, {"database": "ok", "state": "ok"})


def test_readyz_reports_an_unmigrated_database(tmp_path: Path) -> None:
    status, checks = _readyz(Settings(data_dir=tmp_path))
    assert status == 503 and checks["database"] == "not migrated"


def test_readyz_reports_an_unreachable_state_store(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    status, checks = _readyz(Settings(data_dir=tmp_path, redis_url=dead))
    assert status == 503 and checks["state"].startswith("unavailable")
