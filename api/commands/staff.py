"""``elocal staff``: which public employees hold which role in a municipality."""

from __future__ import annotations

import typer

from api.commands import context
from api.db import upgrade
from identity import staff

app = typer.Typer(
    no_args_is_help=True, help="Staff roles (registrar, admin) of public employees, by DNI/NIE."
)


@app.command("grant")
def grant(
    municipality: str = typer.Argument(..., help="DIR3 code of the municipality"),
    dni: str = typer.Argument(..., help="The employee's DNI/NIE, as in their certificate"),
    role: str = typer.Option("registrar", help=f"One of: {', '.join(staff.ROLES)}"),
) -> None:
    """Grant a role; it applies from the employee's next login."""
    ctx = context()
    upgrade(ctx.engine)
    with ctx.transaction() as s:
        row = staff.grant(s, municipality, dni, role)
        typer.echo(f"{row.dni} is {row.role} in {row.municipality_code}")


@app.command("revoke")
def revoke(
    municipality: str = typer.Argument(...),
    dni: str = typer.Argument(...),
    role: str = typer.Option("registrar"),
) -> None:
    """Withdraw a role; it stops applying from the employee's next login."""
    ctx = context()
    with ctx.transaction() as s:
        staff.revoke(s, municipality, dni, role)
    typer.echo(f"{dni.upper()} is no longer {role} in {municipality}")


@app.command("list")
def list_(municipality: str = typer.Argument(...)) -> None:
    """List the staff roles of a municipality."""
    ctx = context()
    with ctx.transaction() as s:
        for row in staff.list_grants(s, municipality):
            typer.echo(f"{row.dni}\t{row.role}\t{row.granted_at.isoformat(timespec='seconds')}")
