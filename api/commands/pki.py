"""``elocal pki``: the development PKI (init), revocation and a listing of issued certificates."""

from __future__ import annotations

import typer

from api.commands import context
from api.db import upgrade
from certs import revocation
from certs.devpki import PKCS12_PASSWORD, SealSubject
from infra import tenancy
from infra.errors import Forbidden

app = typer.Typer(no_args_is_help=True,
                  help="Development CA: create it, revoke certificates, list what it issued.")


class DevPkiInProduction(Forbidden):
    code = "dev_pki_in_production"
    title = "The development PKI is not available in production"


@app.command("init")
def init() -> None:
    """Create (or complete) the development PKI and seal every municipality that has a CIF."""
    from api.demo import initialise_pki

    ctx = context()
    if ctx.settings.environment == "production":
        raise DevPkiInProduction("set ELOCAL_ENVIRONMENT=development to use the development CA")
    upgrade(ctx.engine)
    with ctx.transaction() as s:
        municipalities = tenancy.list_municipalities(s)
        subjects = [SealSubject(m.code, m.name, m.cif) for m in municipalities if m.cif]
        unsealed = [m.code for m in municipalities if not m.cif]
    result = initialise_pki(ctx, subjects)
    typer.echo(f"PKI in {result.pki_dir.resolve()}: {len(result.issued)} certificates, "
               f"{len(result.created)} new; PKCS#12 password {PKCS12_PASSWORD!r}")
    for code in unsealed:
        typer.echo(f"warning: {code} has no CIF, so it gets no seal", err=True)


@app.command("revoke")
def revoke(
    serial: str = typer.Argument(..., help="Serial number, hex (as openssl prints it) or decimal"),
    reason: str = typer.Option(
        "unspecified", help="RFC 5280 reason: " + ", ".join(sorted(revocation.REASONS))),
    ca: str | None = typer.Option(
        None, help="Issuing CA (root or issuing), needed only if the serial is ambiguous"),
) -> None:
    """Revoke a certificate; the CRL and the OCSP responder reflect it at once."""
    ctx = context()
    issuer = revocation.key_id(ctx.pki.ca(ca).certificate) if ca else None
    with ctx.transaction() as s:
        row = revocation.revoke(s, serial, reason, issuer_key_id=issuer)
        typer.echo(f"revoked {row.serial} ({row.reason}) {row.label or row.subject}")


@app.command("list")
def list_() -> None:
    """Every certificate the CA issued: serial, status, expiry, label, subject."""
    ctx = context()
    with ctx.transaction() as s:
        for row in revocation.list_issued(s):
            status = row.status if row.status == "good" else f"{row.status}:{row.reason}"
            typer.echo(f"{row.serial}\t{status}\t{row.not_after:%Y-%m-%d}\t"
                       f"{row.label or '-'}\t{row.subject}")
