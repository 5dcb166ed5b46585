from __future__ import annotations

import json
from pathlib import Path

import typer

from api.commands import context
from api.db import upgrade
from identity.oidc import list_clients, register_client, remove_client

app = typer.Typer(no_args_is_help=True, help="OpenID Connect clients (municipal applications).")


@app.command("add")
def add(
    municipality: str = typer.Argument(..., help="DIR3 code of the municipality it belongs to"),
    name: str = typer.Argument(..., help="Name shown on the consent screen"),
    redirect_uri: list[str] = typer.Option(..., "--redirect-uri",
                                           help="Exact redirect URI (repeatable)"),
    client_id: str | None = typer.Option(None, help="Choose the client_id (default: random)"),
    public: bool = typer.Option(False, "--public", help="A public client (PKCE, no secret)"),
    auth_method: str | None = typer.Option(
        None, help="client_secret_basic (default), client_secret_post, private_key_jwt, "
                   "tls_client_auth"),
    post_logout_redirect_uri: list[str] = typer.Option([], help="Exact URI (repeatable)"),
    scope: list[str] = typer.Option(
        [], help="Allowed scope (repeatable; default: openid profile email "
                 "representation offline_access). 'nif' releases the tax identifier and "
                 "must be named; 'registry' lets the app act on the registry for a person; "
                 "'seal' and 'registry:exits' let it act as itself"),
    jwks_file: Path | None = typer.Option(None, help="Public JWKS for private_key_jwt"),
    tls_thumbprint: str | None = typer.Option(
        None, help="x5t#S256 of the client certificate, for tls_client_auth"),
    id_token_alg: str = typer.Option("RS256", help="RS256 or ES256"),
    secret_file: Path | None = typer.Option(
        None, help="Write the secret to this file (mode 0600) instead of printing it"),
) -> None:
    """Register a client. The secret is shown once; only its hash is stored."""
    ctx = context()
    upgrade(ctx.engine)
    jwks = json.loads(jwks_file.read_text()) if jwks_file else None
    with ctx.transaction() as s:
        client, secret = register_client(
            s, municipality, name, redirect_uri, client_id=client_id, public=public,
            token_endpoint_auth_method=auth_method,
            post_logout_redirect_uris=post_logout_redirect_uri,
            scopes=scope or None, jwks=jwks,
            tls_certificate_thumbprint=tls_thumbprint,
            id_token_signed_response_alg=id_token_alg)
        typer.echo(f"client_id\t{client.client_id}")
        typer.echo(f"auth\t{client.token_endpoint_auth_method}")
    if secret is not None:
        if secret_file is not None:
            write_secret(secret_file, secret)
            typer.echo(f"secret written to {secret_file}")
        else:
            typer.echo(f"client_secret\t{secret}")


def write_secret(path: Path, secret: str) -> None:
    """Create ``path`` readable by its owner only, then write the secret into it."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")


@app.command("list")
def list_(municipality: str | None = typer.Option(None, help="Only this municipality")) -> None:
    """List clients with their municipality, type and redirect URIs."""
    ctx = context()
    with ctx.transaction() as s:
        for c in list_clients(s, municipality):
            typer.echo(f"{c.client_id}\t{c.municipality_code}\t{c.client_type}\t"
                       f"{c.token_endpoint_auth_method}\t{c.name}\t{' '.join(c.redirect_uris)}")


@app.command("remove")
def remove(client_id: str) -> None:
    """Remove a client: its consents go, and its tokens stop working at once."""
    ctx = context()
    with ctx.transaction() as s:
        client = remove_client(s, client_id)
    typer.echo(f"removed {client.client_id}")
