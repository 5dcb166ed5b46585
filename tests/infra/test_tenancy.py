from __future__ import annotations

import subprocess
import sys
from datetime import date

from fastapi.testclient import TestClient

from infra.dir3 import municipality_code
from infra.tenancy import is_working_day, next_working_day


def test_dir3_municipality_codes_carry_the_ine_check_digit() -> None:
    assert municipality_code("28079") == "L01280796"  # Madrid
    assert municipality_code("08019") == "L01080193"  # Barcelona


def test_weekends_and_holidays_are_non_working() -> None:
    holidays = {date(2026, 12, 8)}
    assert not is_working_day(date(2026, 12, 5), holidays)  # Saturday
    assert not is_working_day(date(2026, 12, 8), holidays)
    assert next_working_day(date(2026, 12, 4), holidays) == date(2026, 12, 7)
    assert next_working_day(date(2026, 12, 7), holidays) == date(2026, 12, 9)


def test_municipalities_are_listed_with_offices(client: TestClient, demo_code: str) -> None:
    r = client.get(f"/municipalities/{demo_code}")
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == demo_code
    assert body["offices"][0]["code"].startswith("O")


def test_unknown_municipality_is_a_problem_document(client: TestClient) -> None:
    r = client.get("/municipalities/L01280796")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "unknown_municipality"


def test_malformed_dir3_code_is_a_problem_document(client: TestClient) -> None:
    r = client.get("/municipalities/L01280797")  # wrong check digit
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_dir3_code"


def test_readyz_checks_database_and_state(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "state": "ok"}


def _elocal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_manages_municipalities_and_rejects_bad_codes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    env = {**os.environ, "ELOCAL_DATA_DIR": str(tmp_path / "data")}
    env.pop("ELOCAL_DATABASE_URL", None)
    ok = _elocal(env, "municipalities", "add", "L01280796", "Madrid",
                 "--office", "O00008826=Registro General")
    assert ok.returncode == 0, ok.stderr
    listed = _elocal(env, "municipalities", "list")
    assert "L01280796\tMadrid\toffices: O00008826" in listed.stdout
    bad = _elocal(env, "municipalities", "add", "L01280790", "Madrid bis")
    assert bad.returncode == 1
    assert "invalid_dir3_code" in bad.stderr
    dup = _elocal(env, "municipalities", "add", "L01280796", "Madrid")
    assert dup.returncode == 1 and "conflict" in dup.stderr


def test_cli_reports_bad_configuration_clearly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    env = {**os.environ, "ELOCAL_DATA_DIR": str(tmp_path), "ELOCAL_HTTP_PORT": "not-a-port"}
    r = _elocal(env, "municipalities", "list")
    assert r.returncode == 2
    assert "ELOCAL_HTTP_PORT" in r.stderr
    assert "Traceback" not in r.stderr
