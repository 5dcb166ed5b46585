"""``elocal validate``: validate the signatures of a PDF or XML file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from api.commands import context
from api.routes.validation import parse_time
from infra import tenancy
from signing.validation import PolicyStore, Validator, to_etsi_xml
from signing.validation.service import validate_sync


def validate(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="The signed PDF or XML document"
    ),
    detached: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        readable=True,
        help="The content a detached XML signature signs",
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Never fetch OCSP/CRL; use embedded data only"
    ),
    at: str | None = typer.Option(None, help="Validate as of this ISO 8601 time (point in time)"),
    fmt: str = typer.Option(
        "json", "--format", help="json, or etsi for the TS 119 102-2 XML report"
    ),
    municipality: str | None = typer.Option(
        None, help="Use this municipality's trust store (DIR3 code)"
    ),
    trust: list[Path] = typer.Option([], help="PEM/DER trust anchor file or folder (repeatable)"),
    policies: list[Path] = typer.Option(
        [], help="Folder of signature-policy documents (repeatable)"
    ),
) -> None:
    """Validate every signature in FILE and print the report.

    Exit status: 0 when the document's verdict is TOTAL_PASSED, 1 when it is
    TOTAL_FAILED or INDETERMINATE, 2 for unusable arguments.
    """
    if fmt not in ("json", "etsi"):
        raise typer.BadParameter("use json or etsi", param_hint="--format")
    moment = parse_time(at)
    store = [str(p) for p in trust]
    if municipality:
        ctx = context()
        with ctx.transaction() as session:
            store += list(
                tenancy.get_municipality(session, municipality.strip().upper()).trust_store or []
            )
        validator = (
            ctx.validation
            if not policies
            else Validator(PolicyStore(policies), ctx.validation.limits)
        )
    else:
        validator = Validator(PolicyStore(policies))
    report = validate_sync(
        validator,
        file.read_bytes(),
        detached=detached.read_bytes() if detached else None,
        trust_store=store,
        at=moment,
        offline=offline,
    )
    if fmt == "etsi":
        typer.echo(to_etsi_xml(report).decode())
    else:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    raise typer.Exit(0 if report.passed else 1)
