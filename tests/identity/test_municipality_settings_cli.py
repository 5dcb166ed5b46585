"""``elocal municipalities add|set|show`` with login and seal settings, as an operator runs them.

The settings must take effect: after the CLI configures a municipality, a login
against the app on the same data folder follows the trust store, the policy
allow-list and the revocation mode the operator chose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.app import create_app
from api.cli import app
from api.commands import context
from tests.identity.conftest import TestPki, challenge_login

CODE = "L01280796"
FNMT_POLICY = "1.3.6.1.4.1.5734.3.10.1"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ELOCAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ELOCAL_DATABASE_URL", raising=False)
    monkeypatch.delenv("ELOCAL_REDIS_URL", raising=False)
    context.cache_clear()
    yield CliRunner()
    context().close()
    context.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, list(args))


def show(cli: CliRunner) -> dict[str, str]:
    r = run(cli, "municipalities", "show", CODE)
    assert r.exit_code == 0, r.output
    return dict(line.split("\t", 1) for line in r.output.splitlines())


def test_settings_are_stored_and_shown(cli: CliRunner, test_pki: TestPki, tmp_path: Path) -> None:
    trust = test_pki.write(tmp_path / "trust")
    key = tmp_path / "seal.key.pem"
    key.write_bytes(test_pki.root.key_pem)
    r = run(cli, "municipalities", "add", CODE, "Ayuntamiento de Madrid", "--cif", "p2807900b",
            "--trust-store", str(trust), "--policy", FNMT_POLICY, "--policy", "2.5.29.32.0",
            "--seal-key", f"pem:{key}", "--revocation-soft-fail")
    assert r.exit_code == 0, r.output
    got = show(cli)
    assert got["cif"] == "P2807900B"
    assert got["trust_store"] == str(trust.resolve())
    assert got["policy_allow_list"] == f"{FNMT_POLICY} 2.5.29.32.0"
    assert got["seal_key"] == f"pem:{key.resolve()}"
    assert got["revocation"] == "soft-fail"
    r = run(cli, "municipalities", "set", CODE, "--revocation-hard-fail", "--clear-policies")
    assert r.exit_code == 0, r.output
    got = show(cli)
    assert (got["revocation"], got["policy_allow_list"], got["cif"]) == ("hard-fail", "-",
                                                                          "P2807900B")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--cif", "P2807900A"), "--cif"),  # wrong control character
        (("--cif", "P２807900B"), "--cif"),
        (("--trust-store", "/nonexistent/ca.pem"), "--trust-store"),
        (("--policy", "fnmt"), "--policy"),
        (("--policy", "1.3.06.1"), "--policy"),
        (("--seal-key", "/keys/seal.pem"), "--seal-key"),  # no scheme
        (("--seal-key", "file:/keys/seal.pem"), "--seal-key"),
        (("--seal-key", "pem:/nonexistent/seal.pem"), "--seal-key"),
        (("--seal-cert", "/nonexistent/seal.pem"), "--seal-cert"),
        (("--tsa-url", "ftp://tsa.example"), "--tsa-url"),
    ],
)
def test_bad_values_exit_2_naming_the_option_and_write_nothing(
    cli: CliRunner, args: tuple[str, ...], option: str
) -> None:
    r = run(cli, "municipalities", "add", CODE, "Madrid", *args)
    assert r.exit_code == 2 and option in r.output, r.output
    assert run(cli, "municipalities", "add", CODE, "Madrid").exit_code == 0  # nothing was added
    r = run(cli, "municipalities", "set", CODE, *args)
    assert r.exit_code == 2 and option in r.output, r.output


def test_trust_store_without_certificates_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(cli, "municipalities", "add", CODE, "Madrid", "--trust-store", str(empty))
    assert r.exit_code == 2 and "--trust-store" in r.output


def test_set_needs_an_existing_municipality_and_a_change(cli: CliRunner) -> None:
    r = run(cli, "municipalities", "set", CODE, "--revocation-soft-fail")
    assert r.exit_code == 1 and getattr(r.exception, "code", None) == "unknown_municipality"
    assert run(cli, "municipalities", "add", CODE, "Madrid").exit_code == 0
    assert run(cli, "municipalities", "set", CODE).exit_code == 2


def test_logins_follow_what_the_operator_set(
    cli: CliRunner, test_pki: TestPki, tmp_path: Path
) -> None:
    trust = test_pki.write(tmp_path / "trust")
    assert run(cli, "municipalities", "add", CODE, "Madrid", "--cif", "P2807900B",
               "--trust-store", str(trust), "--policy", FNMT_POLICY).exit_code == 0
    plain, fnmt = test_pki.citizen(), test_pki.citizen(policies=[FNMT_POLICY])
    with TestClient(create_app(ctx=context(), migrate=False)) as http:
        # hard-fail by default, and the test PKI's revocation URLs are dead
        r = challenge_login(http, CODE, fnmt.pem, fnmt.key)
        assert r.json()["code"] == "revocation_unavailable"
        assert run(cli, "municipalities", "set", CODE, "--revocation-soft-fail").exit_code == 0
        assert challenge_login(http, CODE, plain.pem, plain.key).json()["code"] == (
            "policy_not_allowed"
        )
        assert challenge_login(http, CODE, fnmt.pem, fnmt.key).status_code == 200
        assert run(cli, "municipalities", "set", CODE, "--clear-policies").exit_code == 0
        assert challenge_login(http, CODE, plain.pem, plain.key).status_code == 200
