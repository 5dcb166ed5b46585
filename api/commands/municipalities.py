from __future__ import annotations

from datetime import date

import typer

from api.commands import context
from api.db import upgrade
from infra import tenancy

app = typer.Typer(no_args_is_help=True, help="Municipalities (tenants), offices, units, calendar.")


@app.command("add")
def add(
    code: str = typer.Argument(..., help="DIR3 code, L01 + INE code + check digit"),
    name: str = typer.Argument(...),
    office: list[str] = typer.Option([], help="Office as CODE=NAME (repeatable)"),
    unit: list[str] = typer.Option([], help="Unit as CODE=NAME (repeatable)"),
    tsa_url: str | None = typer.Option(None, help="External RFC 3161 TSA for B-T and above"),
    revocation_soft_fail: bool = typer.Option(
        False, help="Accept logins when no revocation source answers"
    ),
) -> None:
    """Add a municipality."""
    ctx = context()
    upgrade(ctx.engine)
    with ctx.transaction() as s:
        muni = tenancy.add_municipality(s, code, name, tsa_url=tsa_url,
                                        revocation_soft_fail=revocation_soft_fail)
        for spec in office:
            ocode, _, oname = spec.partition("=")
            tenancy.add_office(s, muni.code, ocode, oname or ocode)
        for spec in unit:
            ucode, _, uname = spec.partition("=")
            tenancy.add_unit(s, muni.code, ucode, uname or ucode)
    typer.echo(f"added {muni.code} {muni.name}")


@app.command("list")
def list_() -> None:
    """List municipalities with their offices."""
    ctx = context()
    with ctx.transaction() as s:
        for m in tenancy.list_municipalities(s):
            offices = ", ".join(o.code for o in m.offices) or "-"
            typer.echo(f"{m.code}\t{m.name}\toffices: {offices}")


@app.command("holiday")
def holiday(
    code: str,
    day: str = typer.Argument(..., help="YYYY-MM-DD"),
    scope: str = typer.Option("local", help="national, regional or local"),
    name: str = typer.Option(""),
) -> None:
    """Add a non-working day to a municipality's calendar."""
    ctx = context()
    with ctx.transaction() as s:
        tenancy.add_non_working_day(s, code, date.fromisoformat(day), scope, name)
    typer.echo(f"{day} is a non-working day in {code}")
