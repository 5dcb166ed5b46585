"""``elocal clients`` and ``elocal oidc rotate-keys`` as an operator runs them."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import cli
from api.context import Context
from identity.oidc import get_client, list_clients, rotate, vault_for
from infra.db import utcnow
from tests.oidc.conftest import Browser, Rp, code_for, make_principal, redeem
from tests.oidc.test_flow import id_token_claims


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def elocal(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Run ``elocal …`` in-process (typer's runner) against the test's context."""
    from api.commands import clients as clients_cmd
    from api.commands import oidc as oidc_cmd

    monkeypatch.setattr(clients_cmd, "context", lambda: ctx)
    monkeypatch.setattr(oidc_cmd, "context", lambda: ctx)
    runner = CliRunner()

    def run(*args: str) -> Ran:
        result = runner.invoke(cli.app, list(args))
        stderr = result.stderr if result.stderr_bytes is not None else ""
        if result.exception and not isinstance(result.exception, SystemExit):
            stderr += f"{type(result.exception).__name__}: {result.exception}"
        return Ran(result.exit_code, result.stdout, stderr)

    return run


def test_clients_add_list_remove(elocal: Callable[..., Ran], demo_code: str, tmp_path: Path,
                                 browser: Browser) -> None:
    secret_file = tmp_path / "secret"
    added = elocal("clients", "add", demo_code, "Sede electrónica",
                   "--redirect-uri", "https://sede.example/cb", "--client-id", "sede",
                   "--secret-file", str(secret_file))
    assert added.returncode == 0, added.stderr
    secret = secret_file.read_text().strip()
    assert secret and secret not in added.stdout
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    listed = elocal("clients", "list", "--municipality", demo_code)
    assert "sede\t" in listed.stdout and "https://sede.example/cb" in listed.stdout
    assert secret not in listed.stdout

    bad = elocal("clients", "add", demo_code, "Mala", "--redirect-uri",
                 "http://evil.example/cb")
    assert bad.returncode != 0 and "https" in bad.stderr

    # Tokens of a removed client stop working at once.
    rp = Rp("sede", secret, demo_code, "https://sede.example/cb")
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    at = redeem(browser.http, rp, code).json()["access_token"]
    assert browser.http.get("/oidc/userinfo",
                            headers={"Authorization": f"Bearer {at}"}).status_code == 200
    removed = elocal("clients", "remove", "sede")
    assert removed.returncode == 0, removed.stderr
    assert "sede\t" not in elocal("clients", "list").stdout
    assert browser.http.get("/oidc/userinfo",
                            headers={"Authorization": f"Bearer {at}"}).status_code == 401


def test_rotate_keys_keeps_retired_keys_until_their_tokens_expire(
        ctx: Context, elocal: Callable[..., Ran], browser: Browser, rp: Rp,
        demo_code: str) -> None:
    browser.login_as(make_principal(demo_code))
    code, _ = code_for(browser, rp)
    before = redeem(browser.http, rp, code).json()
    old_kids = {k["kid"] for k in browser.http.get("/oidc/jwks").json()["keys"]}

    rotated = elocal("oidc", "rotate-keys")
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.count("new\t") == 2 and rotated.stdout.count("retired\t") == 2
    ctx.oidc.keys.invalidate()   # a running server notices within its refresh interval

    kids = {k["kid"] for k in browser.http.get("/oidc/jwks").json()["keys"]}
    assert old_kids < kids and len(kids) == 4
    # Tokens signed before the rotation still verify, by the RP and by userinfo.
    id_token_claims(browser.http, before["id_token"])
    assert browser.http.get("/oidc/userinfo", headers={
        "Authorization": f"Bearer {before['access_token']}"}).status_code == 200
    code, _ = code_for(browser, rp)
    after = redeem(browser.http, rp, code).json()
    header, _ = id_token_claims(browser.http, after["id_token"])
    assert header["kid"] in kids - old_kids

    # Once every token the retired keys signed has expired, the next rotation drops them.
    with ctx.transaction() as s:
        rotate(s, vault_for(ctx.settings.data_dir), retain=timedelta(seconds=630),
               now=utcnow() + timedelta(hours=1))
    ctx.oidc.keys.invalidate()
    published = {k["kid"] for k in browser.http.get("/oidc/jwks").json()["keys"]}
    assert not published & old_kids and len(published) == 4
    listing = elocal("oidc", "keys")
    assert listing.stdout.count("active") == 2


def test_signing_keys_are_encrypted_at_rest(ctx: Context) -> None:
    from identity.oidc import OidcSigningKey

    with ctx.transaction() as s:
        rows = s.query(OidcSigningKey).all()
    assert rows
    for row in rows:
        assert b'"d"' not in row.encrypted_private_jwk
        assert "d" not in row.public_jwk
    secrets_dir = ctx.settings.data_dir / "oidc"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    for name in ("signing-keys.kek", "pairwise.salt"):
        assert stat.S_IMODE((secrets_dir / name).stat().st_mode) == 0o600


def test_keys_sealed_under_one_data_folder_do_not_open_under_another(tmp_path: Path,
                                                                     ctx: Context) -> None:
    from identity.oidc import OidcSigningKey
    from identity.oidc.vault import VaultError

    with ctx.transaction() as s:
        row = s.query(OidcSigningKey).first()
        assert row is not None
        sealed, kid = row.encrypted_private_jwk, row.kid
    assert b'"kty"' in vault_for(ctx.settings.data_dir).open(sealed, kid.encode())
    with pytest.raises(VaultError):
        vault_for(tmp_path).open(sealed, kid.encode())
    with pytest.raises(VaultError):   # bound to its key id, too
        vault_for(ctx.settings.data_dir).open(sealed, b"another-kid")


def test_clients_add_grants_nif_only_when_named_and_has_no_public_subjects(
        elocal: Callable[..., Ran], ctx: Context, demo_code: str) -> None:
    plain = elocal("clients", "add", demo_code, "Reservas", "--client-id", "reservas",
                   "--redirect-uri", "https://reservas.example/cb")
    assert plain.returncode == 0, plain.stderr
    named = elocal("clients", "add", demo_code, "Tributos", "--client-id", "tributos",
                   "--redirect-uri", "https://tributos.example/cb",
                   "--scope", "openid", "--scope", "nif")
    assert named.returncode == 0, named.stderr
    with ctx.transaction() as s:
        assert "nif" not in get_client(s, "reservas").allowed_scopes
        assert "offline_access" in get_client(s, "reservas").allowed_scopes
        assert get_client(s, "tributos").allowed_scopes == ["openid", "nif"]
    public = elocal("clients", "add", demo_code, "Todos", "--subject-type", "public",
                    "--redirect-uri", "https://todos.example/cb")
    assert public.returncode != 0
    with ctx.transaction() as s:
        assert not any(c.name == "Todos" for c in list_clients(s, demo_code))
