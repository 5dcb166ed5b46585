"""``elocal sign …`` and ``elocal tsa query`` through typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from typer.testing import CliRunner

from api.cli import app
from api.context import Context
from tests.signing.conftest import assert_pdfsig_valid, openssl_ts_verify

runner = CliRunner()


@pytest.fixture
def cli_ctx(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Context:
    monkeypatch.setattr("api.commands.sign.context", lambda: ctx)
    return ctx


def test_sign_pades_at_b_t_with_stamp(live, cli_ctx: Context, demo_code: str,
                                      one_page_pdf: bytes, nss_db: Path, tmp_path: Path) -> None:
    src = tmp_path / "decreto.pdf"
    src.write_bytes(one_page_pdf)
    res = runner.invoke(app, ["sign", "pades", str(src), "--municipality", demo_code,
                              "--level", "B-T", "--stamp", "--verification-code", "X1"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "decreto.sealed-B-T.pdf"
    assert str(out) in res.output
    assert_pdfsig_valid(out, nss_db)
    with out.open("rb") as fh:
        assert len(PdfFileReader(fh).embedded_signatures) == 1


def test_sign_pades_certified_with_the_chosen_permission(cli_ctx: Context, demo_code: str,
                                                         one_page_pdf: bytes,
                                                         tmp_path: Path) -> None:
    from pyhanko.sign.fields import MDPPerm

    src = tmp_path / "bando.pdf"
    src.write_bytes(one_page_pdf)
    res = runner.invoke(app, ["sign", "pades", str(src), "-m", demo_code, "--certify",
                              "--docmdp", "1", "-o", str(tmp_path / "bando-cert.pdf")])
    assert res.exit_code == 0, res.output
    with (tmp_path / "bando-cert.pdf").open("rb") as fh:
        assert PdfFileReader(fh).embedded_signatures[0].docmdp_level is MDPPerm.NO_CHANGES
    bad = runner.invoke(app, ["sign", "pades", str(src), "-m", demo_code, "--certify",
                              "--docmdp", "4", "-o", str(tmp_path / "never.pdf")])
    assert bad.exit_code == 2 and not (tmp_path / "never.pdf").exists()


def test_sign_xades_and_failures_leave_no_file(cli_ctx: Context, demo_code: str,
                                               small_xml: bytes, tmp_path: Path) -> None:
    src = tmp_path / "asiento.xml"
    src.write_bytes(small_xml)
    res = runner.invoke(app, ["sign", "xades", str(src), "-m", demo_code,
                              "--packaging", "internally-detached", "--age-policy"])
    assert res.exit_code == 0, res.output
    assert b"urn:oid:2.16.724.1.3.1.1.2.1.9" in (tmp_path / "asiento.sealed-B-B.xml").read_bytes()

    before = set(tmp_path.iterdir())
    bad = runner.invoke(app, ["sign", "xades", str(src), "-m", demo_code, "--level", "B-Q",
                              "--out", str(tmp_path / "never.xml")])
    assert bad.exit_code != 0
    dtd = tmp_path / "dtd.xml"
    dtd.write_bytes(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')
    bad = runner.invoke(app, ["sign", "xades", str(dtd), "-m", demo_code,
                              "--out", str(tmp_path / "never2.xml")])
    assert bad.exit_code != 0
    assert set(tmp_path.iterdir()) == before | {dtd}


def test_tsa_query_writes_a_token_openssl_verifies(live, cli_ctx: Context,
                                                   tmp_path: Path) -> None:
    data = tmp_path / "acta.txt"
    data.write_bytes(b"acta de la junta de gobierno local")
    res = runner.invoke(app, ["tsa", "query", str(data)])
    assert res.exit_code == 0, res.output
    assert "serial:" in res.output and "eLocal TSA" in res.output
    verified = openssl_ts_verify(tmp_path / "acta.txt.tst", ctx=cli_ctx, data=data,
                                 token_in=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
