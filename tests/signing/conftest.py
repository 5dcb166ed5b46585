"""Fixtures for the signing tests: sample documents, the demo seal, external checkers."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.context import Context
from bench.samples import make_pdf, make_xml
from signing import Sealer
from tests.conftest import require_tool
from tests.logins import login_demo_person


@pytest.fixture(scope="session")
def one_page_pdf() -> bytes:
    return make_pdf(1)


@pytest.fixture(scope="session")
def small_xml() -> bytes:
    return make_xml(10 * 1024)


@pytest.fixture
def sealer(ctx: Context) -> Sealer:
    return ctx.sealer


@pytest.fixture
def registrar(client: Any, ctx: Context, live: Any, demo_code: str) -> Any:
    """The test client, logged in as the demo employee (a registrar of ``demo_code``).

    ``live`` serves the OCSP/CRL URLs of the demo certificates that the login checks.
    """
    login_demo_person(client, ctx, "employee", demo_code)
    return client


@pytest.fixture(scope="session")
def nss_db(session_ctx: Context, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NSS database that trusts the demo root, for poppler's pdfsig."""
    certutil = require_tool("certutil")
    db = tmp_path_factory.mktemp("nssdb")
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run([certutil, "-A", "-d", f"sql:{db}", "-n", "elocal-demo-root", "-t", "CT,C,C",
                    "-i", str(session_ctx.pki.root_path)], check=True, capture_output=True)
    return db


def pdfsig(path: Path, nss_db: Path) -> str:
    tool = require_tool("pdfsig")
    res = subprocess.run([tool, "-nssdir", f"sql:{nss_db}", str(path)], capture_output=True,
                         text=True, timeout=60)
    return res.stdout + res.stderr


def openssl_ts_verify(token_or_reply: Path, *, ctx: Context, data: Path | None = None,
                      digest: bytes | None = None, token_in: bool = False
                      ) -> subprocess.CompletedProcess[str]:
    """``openssl ts -verify`` against the demo root, with the issuing CA as untrusted chain."""
    openssl = require_tool("openssl")
    args = [openssl, "ts", "-verify", "-in", str(token_or_reply),
            "-CAfile", str(ctx.pki.root_path), "-untrusted", str(ctx.pki.dir / "issuing.pem")]
    if token_in:
        args.append("-token_in")
    if data is not None:
        args += ["-data", str(data)]
    if digest is not None:
        args += ["-digest", digest.hex()]
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def pdfsig_blocks(output: str) -> list[str]:
    """pdfsig's report split per signature."""
    return output.split("Signature #")[1:]


def assert_pdfsig_valid(path: Path, nss_db: Path) -> list[str]:
    """Every CMS signature valid and trusted; document timestamps (which poppler cannot
    check) must be the only blocks pdfsig leaves unverified."""
    out = pdfsig(path, nss_db)
    blocks = pdfsig_blocks(out)
    assert blocks, out
    for block in blocks:
        if "Signature Type: ETSI.CAdES.detached" in block:
            assert "Signature Validation: Signature is Valid." in block, out
            assert "Certificate Validation: Certificate is Trusted." in block, out
        else:
            assert "Timestamp" in block and "eLocal TSA" in block, out
    return blocks
