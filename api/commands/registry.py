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
