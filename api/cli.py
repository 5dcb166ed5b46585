"""The ``elocal`` command line."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from api.commands import clients as clients_cmd
from api.commands import db as db_cmd
from api.commands import login as login_cmd
from api.commands import municipalities as muni_cmd
from api.commands import oidc as oidc_cmd
from api.commands import pki as pki_cmd
from api.commands import registry as registry_cmd
from api.commands import serve as serve_cmd
from api.commands import sign as sign_cmd
from api.commands import staff as staff_cmd
from api.commands import validate as validate_cmd
from infra.errors import ElocalError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="eLocal: electronic administration for small municipalities.")
app.add_typer(db_cmd.app, name="db")
app.add_typer(muni_cmd.app, name="municipalities")
app.add_typer(pki_cmd.app, name="pki")
app.add_typer(oidc_cmd.app, name="oidc")
app.add_typer(clients_cmd.app, name="clients")
app.add_typer(staff_cmd.app, name="staff")
app.add_typer(registry_cmd.app, name="registry")
app.add_typer(sign_cmd.app, name="sign")
app.add_typer(sign_cmd.tsa_app, name="tsa")
app.command("init")(serve_cmd.init)
app.command("serve")(serve_cmd.serve)
app.command("login")(login_cmd.login)
app.command("validate")(validate_cmd.validate)


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns configuration and domain errors into clear messages."""
    try:
        app(args=argv, standalone_mode=True)
    except ValidationError as exc:
        _fail("bad configuration", [
            f"ELOCAL_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        ], status=2)
    except ElocalError as exc:
        _fail(f"{exc.code}: {exc.detail}", [], status=1)


def _fail(message: str, lines: list[str], *, status: int) -> None:
    print(f"elocal: error: {message}", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
