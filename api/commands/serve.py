from __future__ import annotations

import typer

from api.commands import context
from api.demo import initialise


def init(demo: bool = typer.Option(True, help="Create the demo PKI and municipalities")) -> None:
    """Initialise the data folder: database, demo PKI, demo municipality."""
    ctx = context()
    initialise(ctx, demo=demo)
    typer.echo(f"data folder {ctx.settings.data_dir.resolve()} is ready")


def serve(
    init_first: bool = typer.Option(True, "--init/--no-init", help="Run init before serving"),
) -> None:
    """Serve the API over HTTP and HTTPS (mutual TLS optional)."""
    from api.server import run

    ctx = context()
    if init_first:
        initialise(ctx, demo=ctx.settings.environment == "development")
    run(ctx)
