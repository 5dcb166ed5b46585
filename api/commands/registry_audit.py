"""``elocal registry audit``: verify a municipality's registry log over HTTP only.

It needs no database access and no eLocal configuration: point it at any eLocal
deployment (``--url``) and, ideally, pin the log key you obtained out of band
(``--key``); otherwise the served key is used and its fingerprint printed so that
it can be compared by other means.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import typer
from cryptography import x509

from registry.audit import DEFAULT_TIMESTAMP_GRACE, AuditAborted, Auditor
from registry.checkpoint import CheckpointError


def audit(
    url: str = typer.Option(..., help="Base URL of the eLocal API, e.g. https://sede.example"),
    municipality: str = typer.Option(..., help="DIR3 code of the municipality (L01…)"),
    key: str | None = typer.Option(
        None, help="Pinned log verifier key (name+hash+base64); default: the served key"
    ),
    tsa_root: Path | None = typer.Option(
        None, exists=True, dir_okay=False,
        help="PEM trust anchors for the checkpoints' RFC 3161 time-stamps",
    ),
    known: list[Path] = typer.Option(
        [], "--known-checkpoint", exists=True, dir_okay=False,
        help="A signed checkpoint kept from before (repeatable): catches truncation and forks",
    ),
    save: Path | None = typer.Option(
        None, "--save-checkpoint", dir_okay=False,
        help="After a passing audit, write the latest checkpoint here for the next audit",
    ),
    timestamp_grace: float = typer.Option(
        DEFAULT_TIMESTAMP_GRACE, min=0.0,
        help="Seconds a checkpoint may wait for an RFC 3161 time-stamp before it is reported",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
    workers: int = typer.Option(8, min=1, max=64, help="Concurrent proof requests"),
    timeout: float = typer.Option(30.0, min=1.0, help="HTTP timeout per request (seconds)"),
    insecure: bool = typer.Option(False, help="Do not verify the server's TLS certificate"),
) -> None:
    """Recompute the registry log from the API and report every problem (exit 1 if any)."""
    roots = None
    if tsa_root is not None:
        try:
            roots = x509.load_pem_x509_certificates(tsa_root.read_bytes())
        except ValueError as exc:
            typer.echo(f"elocal: error: {tsa_root} holds no PEM certificate ({exc})", err=True)
            sys.exit(2)
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    try:
        with httpx.Client(base_url=url, timeout=timeout, limits=limits,
                          verify=not insecure) as client:
            auditor = Auditor(client, municipality, pinned_key=key, workers=workers,
                              tsa_roots=roots, timestamp_grace=timestamp_grace,
                              known_checkpoints=[k.read_text(encoding="utf-8") for k in known],
                              progress=lambda m: typer.echo(m, err=True))
            report = auditor.run()
    except CheckpointError as exc:
        typer.echo(f"elocal: error: bad pinned key: {exc.detail}", err=True)
        sys.exit(2)
    except (AuditAborted, httpx.HTTPError) as exc:
        typer.echo(f"elocal: error: audit aborted: {exc}", err=True)
        sys.exit(2)
    if as_json:
        typer.echo(json.dumps({
            "municipality": report.municipality, "origin": report.origin,
            "verifier_key": report.verifier_key, "fingerprint": report.fingerprint,
            "size": report.size, "checkpoints": report.checkpoints,
            "timestamps": report.timestamps, "series": report.series,
            "ok": report.ok,
            "problems": [{"code": f.code, "index": f.index, "detail": f.detail}
                         for f in report.findings],
        }, indent=2))
    else:
        for line in report.summary():
            typer.echo(line)
    if not report.ok:
        sys.exit(1)
    note = auditor.latest_note()
    if save is not None and note is not None:
        save.write_text(note, encoding="utf-8", newline="")
