from __future__ import annotations

import typer

from api.commands import context
from api.db import upgrade as _upgrade

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration."""
    ctx = context()
    _upgrade(ctx.engine)
    typer.echo(f"database at {ctx.engine.url.render_as_string(hide_password=True)} is up to date")
