"""``elocal login``: challenge–response login from the command line (no TLS client auth).

Signs the server's challenge with the key of a PKCS#12 file (or PEM certificate and
key), prints who the server says you are and, with ``--save``, stores the session
cookie in a file readable only by you, for scripts that call the API afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from identity.client import LoginRefused, challenge_login
from identity.sessions import SESSION_COOKIE


def _credentials(
    p12: Path | None, cert: Path | None, key: Path | None, password: str
) -> tuple[x509.Certificate, list[x509.Certificate], object]:
    if p12 is not None:
        k, c, extra = pkcs12.load_key_and_certificates(p12.read_bytes(), password.encode())
        if k is None or c is None:
            raise typer.BadParameter("the PKCS#12 file holds no key or no certificate")
        return c, list(extra or []), k
    if cert is None or key is None:
        raise typer.BadParameter("give --p12, or both --cert and --key")
    certs = x509.load_pem_x509_certificates(cert.read_bytes())
    k = serialization.load_pem_private_key(key.read_bytes(), password.encode() or None)
    return certs[0], certs[1:], k


def login(
    municipality: str = typer.Option(..., help="DIR3 code of the municipality"),
    server: str = typer.Option("http://127.0.0.1:8000", help="eLocal's base URL"),
    p12: Path | None = typer.Option(None, exists=True, dir_okay=False, help="PKCS#12 file"),
    cert: Path | None = typer.Option(None, exists=True, dir_okay=False, help="PEM certificate"),
    key: Path | None = typer.Option(None, exists=True, dir_okay=False, help="PEM private key"),
    password: str = typer.Option(
        "", envvar="ELOCAL_CERT_PASSWORD", help="Password of the PKCS#12 file or key"
    ),
    save: Path | None = typer.Option(None, help="Write the session cookie to this file (0600)"),
) -> None:
    """Log in with a certificate by challenge–response and print the identity."""
    leaf, chain, private_key = _credentials(p12, cert, key, password)
    with httpx.Client(base_url=server.rstrip("/"), timeout=30) as client:
        try:
            result = challenge_login(client, municipality, leaf, private_key, chain)
        except LoginRefused as exc:
            typer.echo(f"elocal: login refused: {exc.code}: {exc.detail}", err=True)
            raise typer.Exit(1) from None
    sid = result.session_id
    if save is not None and sid:
        fd = os.open(save, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{SESSION_COOKIE}={sid}\n")
    typer.echo(json.dumps(result.me, ensure_ascii=False, indent=2))
