"""``elocal staff``: which public employees hold which role in a municipality."""

from __future__ import annotations

import typer

from api.commands import context
from api.db import upgrade
from identity import staff
from infra.state import MemoryStateStore

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
    """Withdraw a role and end the employee's open sessions in that municipality.

    A session carries the roles it was opened with; leaving it open would let the
    employee keep acting as registrar until it expired.
    """
    ctx = context()
    with ctx.transaction() as s:
        subject = staff.revoke(s, municipality, dni, role)
    # After the commit: a login racing with this one already finds the role gone.
    ctx.login_sessions.close_all(subject, municipality)
    typer.echo(f"{subject} is no longer {role} in {municipality}; their sessions were ended")
    if isinstance(ctx.state, MemoryStateStore):
        typer.echo(
            "elocal: warning: no ELOCAL_REDIS_URL, so a running server keeps its sessions in "
            "its own memory and this command cannot reach them; restart the server to end "
            "them now",
            err=True,
        )


@app.command("list")
def list_(municipality: str = typer.Argument(...)) -> None:
    """List the staff roles of a municipality."""
    ctx = context()
    with ctx.transaction() as s:
        for row in staff.list_grants(s, municipality):
            typer.echo(f"{row.dni}\t{row.role}\t{row.granted_at.isoformat(timespec='seconds')}")
