"""``elocal registry``: the electronic registry from the command line."""

from __future__ import annotations

import json

import typer

from api.commands import context
from api.commands.registry_audit import audit

app = typer.Typer(no_args_is_help=True, help="The electronic registry of entries and exits.")
app.command("audit")(audit)


@app.command("time")
def official_time(municipality: str = typer.Argument(..., help="DIR3 code (L01…)")) -> None:
    """Show the official date and time of a municipality's registry (art. 31)."""
    typer.echo(json.dumps(context().registry.official_time(municipality), indent=2))


@app.command("receipt")
def receipt(code: str = typer.Argument(..., help="Verification code printed on a receipt")
            ) -> None:
    """Look a receipt up by its verification code (public facts only)."""
    from api.routes.registry import receipt_view

    typer.echo(json.dumps(receipt_view(context().registry.by_verification_code(code)),
                          indent=2))


@app.command("stamp")
def stamp(municipality: str | None = typer.Argument(
        None, help="DIR3 code (L01…); default: every municipality's log")) -> None:
    """RFC 3161 time-stamp the latest log checkpoint where it has no token yet.

    Registrations stamp their log on their own; this is for after a TSA outage or a
    crash (run it from cron, for instance), and the audit reports what it leaves.
    """
    ctx = context()
    for code, stamped in ctx.registry_log.stamp_all(ctx.engine, municipality).items():
        typer.echo(f"{code}: {'stamped' if stamped else 'already stamped'}")


@app.command("template")
def template(
    municipality: str = typer.Argument(..., help="DIR3 code (L01…)"),
    number_template: str = typer.Argument(
        ..., metavar="TEMPLATE",
        help="Python format with {year}, {kind} and {number} (and optionally {office}), "
             "e.g. '{year}/{office}/{kind}/{number:06d}'"),
) -> None:
    """Set how a municipality's registry numbers are displayed (new entries only)."""
    from registry.numbering import set_template

    with context().transaction() as s:
        sample = set_template(s, municipality, number_template)
    typer.echo(f"{municipality}: numbers now look like {sample}")
