"""``elocal staff grant|revoke|list`` as an operator runs it (typer's runner, own data dir)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.cli import app
from api.commands import context
from api.commands import staff as staff_commands
from api.context import Context
from api.demo import DEMO_CODE
from infra.errors import ElocalError
from tests.logins import login_demo_person


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ELOCAL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ELOCAL_DATABASE_URL", raising=False)
    monkeypatch.delenv("ELOCAL_REDIS_URL", raising=False)
    context.cache_clear()
    yield CliRunner()
    context().close()
    context.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, list(args))


def error_code(result: Result) -> str:
    assert isinstance(result.exception, ElocalError), result.output
    return result.exception.code


def test_grant_list_revoke(cli: CliRunner) -> None:
    code = DEMO_CODE
    assert run(cli, "municipalities", "add", code, "Villademo").exit_code == 0
    r = run(cli, "staff", "grant", code, "11111111-h")
    assert r.exit_code == 0 and "11111111H is registrar" in r.output
    assert run(cli, "staff", "grant", code, "11111111H").exit_code == 0  # idempotent
    listed = run(cli, "staff", "list", code).output.splitlines()
    assert len(listed) == 1 and listed[0].startswith("11111111H\tregistrar\t")
    assert error_code(run(cli, "staff", "grant", code, "11111111A")) == "invalid_nif"
    assert error_code(run(cli, "staff", "grant", code, "11111111H", "--role", "mayor")) == (
        "unknown_role"
    )
    assert run(cli, "staff", "revoke", code, "11111111H").exit_code == 0
    assert run(cli, "staff", "list", code).output.strip() == ""
    assert error_code(run(cli, "staff", "revoke", code, "11111111H")) == "not_found"


def test_revoke_ends_the_employees_open_sessions(
    client: TestClient, ctx: Context, live: Any, demo_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI runs against the server's own database and state store, as with Redis."""
    monkeypatch.setattr(staff_commands, "context", lambda: ctx)
    runner = CliRunner()
    assert run(runner, "staff", "grant", demo_code, "11111111H", "--role", "admin").exit_code == 0
    login_demo_person(client, ctx, "employee", demo_code)
    assert client.get("/me").json()["roles"] == ["admin", "registrar"]
    with TestClient(client.app) as citizen:  # someone else's session is left alone
        login_demo_person(citizen, ctx, "citizen", demo_code)
        r = run(runner, "staff", "revoke", demo_code, "11111111H")
        assert r.exit_code == 0, r.output
        assert "sessions were ended" in r.output
        assert client.get("/me").status_code == 401
        assert citizen.get("/me").status_code == 200
    me = login_demo_person(client, ctx, "employee", demo_code).json()
    assert me["subject"] == "11111111H" and me["roles"] == ["admin"]
