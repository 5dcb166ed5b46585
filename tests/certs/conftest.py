"""Fixtures for the PKI tests: the session's dev PKI, openssl and the ``elocal`` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from api import cli as cli_module
from api.commands import pki as pki_commands
from api.context import Context
from api.settings import Settings
from certs.store import Pki
from tests.conftest import require_tool

REPO = Path(__file__).resolve().parents[2]

#: Every certificate file of the dev PKI except the CAs, by label.
LEAVES = (
    "tls/server", "tsa/tsa", "ocsp/ocsp",
    "people/citizen", "people/dnie", "people/representative", "people/employee",
    "people/revoked", "people/expired",
)


@pytest.fixture
def pki(ctx: Context) -> Pki:
    return ctx.pki


@pytest.fixture(scope="session")
def openssl() -> str:
    return require_tool("openssl")


def cert_of(pki: Pki, label: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki.dir / f"{label}.pem").read_bytes())


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(settings: Settings, data_dir: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELOCAL_")}
    env.update(
        ELOCAL_DATA_DIR=str(data_dir or settings.data_dir),
        ELOCAL_PUBLIC_URL=settings.public_url,
    )
    if data_dir is None:
        env["ELOCAL_DATABASE_URL"] = settings.resolved_database_url
    return env


@pytest.fixture
def elocal(ctx: Context, settings: Settings) -> CliRunner:
    """Run ``python -m api.cli`` against the test's database and data folder."""

    def run(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args], cwd=REPO, env=cli_env(settings, data_dir),
            capture_output=True, text=True, timeout=120,
        )

    return run


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


InProcessCli = Callable[..., CliResult]


@pytest.fixture
def cli(ctx: Context, settings: Settings, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessCli]:
    """``elocal`` through its real entry point (``api.cli.main``), in this process.

    A subprocess pays for importing the whole application each time; this runs the
    same code path (argument parsing, error reporting, exit status) against the
    test's context, or a fresh one for ``data_dir``. The subprocess form is kept
    where another process matters (``elocal`` fixture).
    """
    contexts: list[Context] = []

    def run(*args: str, data_dir: Path | None = None) -> CliResult:
        target = ctx
        if data_dir is not None:
            target = Context(Settings(data_dir=data_dir, public_url=settings.public_url))
            contexts.append(target)
        monkeypatch.setattr(pki_commands, "context", lambda: target)
        capsys.readouterr()
        try:
            cli_module.main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    yield run
    for c in contexts:
        c.close()
