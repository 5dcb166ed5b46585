"""``elocal sign pades|xades|extend`` and ``elocal tsa query``.

Results are written next to a temporary name and renamed into place only once
complete, so a failed run never leaves a half-written file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import typer

from api.commands import context
from signing import Level, Stamp
from signing.timestamps import HttpTimeStamper

app = typer.Typer(no_args_is_help=True, help="Seal documents with a municipality's seal.")
tsa_app = typer.Typer(no_args_is_help=True, help="RFC 3161 time-stamping.")


def _write_atomically(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_out(file: Path, level: str, suffix: str) -> Path:
    return file.with_name(f"{file.stem}.sealed-{Level.parse(level).value}{suffix}")


@app.command("pades")
def pades(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="PDF to seal"),
    municipality: str = typer.Option(..., "--municipality", "-m", help="DIR3 code"),
    level: str = typer.Option("B-B", "--level", "-l", help="B-B, B-T, B-LT or B-LTA"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file"),
    stamp: bool = typer.Option(False, help="Draw a visible stamp"),
    verification_code: str | None = typer.Option(None, help="Code shown in the stamp"),
    verification_url: str | None = typer.Option(None, help="URL shown (and as QR) in the stamp"),
    certify: bool = typer.Option(False, help="Certification (DocMDP) instead of approval"),
    docmdp: int = typer.Option(2, min=1, max=3, help="With --certify, changes still allowed: "
                               "1 none, 2 form filling and signing, 3 also annotations"),
    age_policy: bool = typer.Option(False, help="Sign under the AGE signature policy 1.9"),
) -> None:
    """Seal a PDF (PAdES)."""
    ctx = context()
    target = out or _default_out(file, level, ".pdf")
    spec: Stamp | bool = False
    if stamp:
        spec = Stamp(municipality=ctx.sealer.config(municipality).name,
                     verification_code=verification_code, verification_url=verification_url)
    sealed = ctx.sealer.seal_pdf(municipality, file, level, stamp=spec, certify=certify,
                                 age_policy=age_policy, docmdp=docmdp)
    _write_atomically(target, sealed)
    typer.echo(f"sealed {file} at PAdES {Level.parse(level).value}: {target}")


@app.command("xades")
def xades(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="XML to seal"),
    municipality: str = typer.Option(..., "--municipality", "-m", help="DIR3 code"),
    level: str = typer.Option("B-B", "--level", "-l", help="B-B, B-T or B-LT"),
    packaging: str = typer.Option("enveloped", help="enveloped, enveloping, detached or "
                                                    "internally-detached"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file"),
    age_policy: bool = typer.Option(False, help="XAdES-EPES under the AGE policy 1.9"),
) -> None:
    """Seal an XML document (XAdES)."""
    ctx = context()
    target = out or _default_out(file, level, ".xml")
    signed = ctx.sealer.seal_xml(municipality, file.read_bytes(), level, packaging=packaging,
                                 age_policy=age_policy, document_uri=file.name)
    _write_atomically(target, signed)
    typer.echo(f"sealed {file} at XAdES {Level.parse(level).value} ({packaging}): {target}")


@app.command("extend")
def extend(
    file: Path = typer.Argument(..., exists=True, dir_okay=False),
    municipality: str = typer.Option(..., "--municipality", "-m"),
    level: str = typer.Option(..., "--level", "-l"),
    out: Path | None = typer.Option(None, "--out", "-o"),
) -> None:
    """Raise an eLocal PAdES or XAdES seal to a higher level."""
    ctx = context()
    is_pdf = file.read_bytes()[:1024].find(b"%PDF-") >= 0
    target = out or _default_out(file, level, ".pdf" if is_pdf else ".xml")
    if is_pdf:
        result = ctx.sealer.extend_pdf(municipality, file, level)
    else:
        result = ctx.sealer.extend_xml(municipality, file.read_bytes(), level)
    _write_atomically(target, result)
    typer.echo(f"extended {file} to {Level.parse(level).value}: {target}")


@tsa_app.command("query")
def query(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Data to timestamp"),
    url: str | None = typer.Option(None, help="TSA URL (default: this deployment's /tsa)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write the token (DER)"),
) -> None:
    """Ask a TSA for an RFC 3161 token over FILE; checks nonce and imprint, prints the token."""
    ctx = context()
    stamper = HttpTimeStamper(url or ctx.sealer.own_tsa_url,
                              timeout=ctx.settings.tsa_timeout_seconds)
    digest = hashlib.sha256(file.read_bytes()).digest()
    token = stamper.timestamp_digest(digest)
    info = token["content"]["encap_content_info"]["content"].parsed
    target = out or file.with_name(file.name + ".tst")
    _write_atomically(target, token.dump())
    typer.echo(f"serial:   {info['serial_number'].native}")
    typer.echo(f"time:     {info['gen_time'].native.isoformat()}")
    typer.echo(f"policy:   {info['policy'].native}")
    tsa_name = info["tsa"].chosen.human_friendly if info["tsa"].native else "-"
    typer.echo(f"tsa:      {tsa_name}")
    typer.echo(f"imprint:  sha256:{digest.hex()}")
    typer.echo(f"token:    {target}")
