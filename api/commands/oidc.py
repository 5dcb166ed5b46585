from __future__ import annotations

from datetime import timedelta

import typer

from api.commands import context
from api.db import upgrade
from identity.oidc import list_keys, rotate, vault_for

app = typer.Typer(no_args_is_help=True, help="The OpenID Connect provider: signing keys.")


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Create new RS256 and ES256 signing keys and retire the current ones.

    Retired keys stay in the JWKS until every token they signed has expired, then
    the next rotation deletes them. Running servers pick the new keys up within 30 s.
    """
    ctx = context()
    upgrade(ctx.engine)
    config = ctx.oidc.config
    # A server that has not yet reloaded its keys may sign with the old key for one more
    # refresh interval; its tokens then live for the longest token lifetime.
    retain = timedelta(seconds=max(config.access_token_ttl, config.id_token_ttl)
                       + ctx.oidc.keys.refresh_seconds + config.clock_skew)
    with ctx.transaction() as s:
        created, retired = rotate(s, vault_for(ctx.settings.data_dir), retain=retain)
        for key in created:
            typer.echo(f"new\t{key.alg}\t{key.kid}")
        for key in retired:
            typer.echo(f"retired\t{key.alg}\t{key.kid}\tpublished until "
                       f"{key.expires_after.isoformat() if key.expires_after else '-'}")


@app.command("keys")
def keys() -> None:
    """List signing keys: active, retired (still published) and their algorithms."""
    ctx = context()
    with ctx.transaction() as s:
        for key in list_keys(s):
            status = "active" if key.retired_at is None else (
                f"retired, published until {key.expires_after.isoformat()}"
                if key.expires_after else "retired")
            typer.echo(f"{key.kid}\t{key.alg}\t{key.created_at.isoformat()}\t{status}")
