"""``elocal municipalities``: the tenants, their offices, units, calendar and login/seal settings.

Operators set a town hall's CIF, login trust store, certificate-policy allow-list,
seal key and revocation mode here. Every value is checked before anything is
written (paths exist and hold certificates, the CIF's control character matches,
the seal key names a known scheme), and a bad value exits with status 2 naming the
option: a typo must not leave a municipality that trusts nothing or seals with
nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer

from api.commands import context
from api.db import upgrade
from certs.identifiers import InvalidIdentifier, check_cif
from certs.keys import KeyLoadError
from certs.store import load_trust_store
from infra import tenancy

app = typer.Typer(no_args_is_help=True, help="Municipalities (tenants), offices, units, calendar.")

#: Key schemes a seal can be loaded with (``certs.keys`` and ``signing.keys``).
SEAL_KEY_SCHEMES = ("pem", "pkcs12", "pkcs11")
_OID_RE = re.compile(r"[0-2](?:\.(?:0|[1-9][0-9]*))+", re.ASCII)

_CIF = typer.Option(None, "--cif", help="The town hall's CIF (named in its seal)")
_TRUST = typer.Option(
    None, "--trust-store", help="PEM/DER file or folder of login trust anchors (repeatable)"
)
_POLICY = typer.Option(
    None, "--policy", help="Certificate-policy OID accepted for login (repeatable)"
)
_SEAL_KEY = typer.Option(None, "--seal-key", help="pem:<file>, pkcs12:<file> or pkcs11:<uri>")
_SEAL_CERT = typer.Option(None, "--seal-cert", help="Seal certificate (PEM) for pem:/pkcs11: keys")
_TSA = typer.Option(None, "--tsa-url", help="External RFC 3161 TSA for B-T and above")


def _cif(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_cif(value)
    except InvalidIdentifier as exc:
        raise typer.BadParameter(str(exc), param_hint="--cif") from None


def _trust_store(paths: list[str] | None) -> list[str] | None:
    """Absolute paths, once they are shown to hold at least one certificate."""
    if not paths:
        return None
    resolved = [str(Path(p).expanduser().resolve()) for p in paths]
    try:
        certs = load_trust_store(resolved)
    except (KeyLoadError, OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--trust-store") from None
    if not certs:
        raise typer.BadParameter("no certificate found there", param_hint="--trust-store")
    return resolved


def _policies(oids: list[str] | None) -> list[str] | None:
    if not oids:
        return None
    for oid in oids:
        if not _OID_RE.fullmatch(oid):
            raise typer.BadParameter(f"{oid!r} is not a dotted OID", param_hint="--policy")
    return list(dict.fromkeys(oids))


def _existing_file(value: str, hint: str) -> str:
    path = Path(value).expanduser()
    if not path.is_file():
        raise typer.BadParameter(f"{value} is not a file", param_hint=hint)
    return str(path.resolve())


def _seal_key(spec: str | None) -> str | None:
    """A key spec with a known scheme; file-based keys must point at a file."""
    if spec is None:
        return None
    scheme, sep, location = spec.partition(":")
    if not sep or scheme not in SEAL_KEY_SCHEMES or not location:
        raise typer.BadParameter(
            f"{spec!r} must be one of {', '.join(s + ':…' for s in SEAL_KEY_SCHEMES)}",
            param_hint="--seal-key",
        )
    if scheme == "pkcs11":
        return spec  # RFC 7512 URI; the token is opened when the seal is first used
    return f"{scheme}:{_existing_file(location, '--seal-key')}"


def _tsa_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--tsa-url")
    return url


@dataclass(frozen=True)
class MunicipalitySettings:
    """Checked values for the columns an operator may set; None leaves a column as is."""

    cif: str | None = None
    trust_store: list[str] | None = None
    policy_allow_list: list[str] | None = None
    seal_key: str | None = None
    seal_cert: str | None = None
    tsa_url: str | None = None
    revocation_soft_fail: bool | None = None

    @classmethod
    def checked(
        cls,
        *,
        cif: str | None,
        trust_store: list[str] | None,
        policy: list[str] | None,
        seal_key: str | None,
        seal_cert: str | None,
        tsa_url: str | None,
        revocation_soft_fail: bool | None,
    ) -> MunicipalitySettings:
        return cls(
            cif=_cif(cif),
            trust_store=_trust_store(trust_store),
            policy_allow_list=_policies(policy),
            seal_key=_seal_key(seal_key),
            seal_cert=_existing_file(seal_cert, "--seal-cert") if seal_cert else None,
            tsa_url=_tsa_url(tsa_url),
            revocation_soft_fail=revocation_soft_fail,
        )

    def columns(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@app.command("add")
def add(
    code: str = typer.Argument(..., help="DIR3 code, L01 + INE code + check digit"),
    name: str = typer.Argument(...),
    office: list[str] = typer.Option([], help="Office as CODE=NAME (repeatable)"),
    unit: list[str] = typer.Option([], help="Unit as CODE=NAME (repeatable)"),
    cif: str | None = _CIF,
    trust_store: list[str] | None = _TRUST,
    policy: list[str] | None = _POLICY,
    seal_key: str | None = _SEAL_KEY,
    seal_cert: str | None = _SEAL_CERT,
    tsa_url: str | None = _TSA,
    revocation_soft_fail: bool = typer.Option(
        False, help="Accept logins when no revocation source answers (default: hard-fail)"
    ),
) -> None:
    """Add a municipality."""
    settings = MunicipalitySettings.checked(
        cif=cif, trust_store=trust_store, policy=policy, seal_key=seal_key,
        seal_cert=seal_cert, tsa_url=tsa_url, revocation_soft_fail=revocation_soft_fail,
    )
    ctx = context()
    upgrade(ctx.engine)
    with ctx.transaction() as s:
        muni = tenancy.add_municipality(s, code, name, **settings.columns())
        for spec in office:
            ocode, _, oname = spec.partition("=")
            tenancy.add_office(s, muni.code, ocode, oname or ocode)
        for spec in unit:
            ucode, _, uname = spec.partition("=")
            tenancy.add_unit(s, muni.code, ucode, uname or ucode)
    typer.echo(f"added {muni.code} {muni.name}")


@app.command("set")
def set_(
    code: str = typer.Argument(..., help="DIR3 code of an existing municipality"),
    cif: str | None = _CIF,
    trust_store: list[str] | None = typer.Option(
        None, "--trust-store", help="Replace the login trust store (repeatable)"
    ),
    policy: list[str] | None = typer.Option(
        None, "--policy", help="Replace the certificate-policy allow-list (repeatable)"
    ),
    clear_policies: bool = typer.Option(False, help="Accept any certificate policy again"),
    seal_key: str | None = _SEAL_KEY,
    seal_cert: str | None = _SEAL_CERT,
    tsa_url: str | None = _TSA,
    revocation_soft_fail: bool | None = typer.Option(
        None,
        "--revocation-soft-fail/--revocation-hard-fail",
        help="Accept logins when no revocation source answers, or require an answer",
        show_default=False,
    ),
) -> None:
    """Change a municipality's settings; options not given are left as they are."""
    if policy and clear_policies:
        raise typer.BadParameter("give --policy or --clear-policies, not both",
                                 param_hint="--clear-policies")
    settings = MunicipalitySettings.checked(
        cif=cif, trust_store=trust_store, policy=policy, seal_key=seal_key,
        seal_cert=seal_cert, tsa_url=tsa_url, revocation_soft_fail=revocation_soft_fail,
    )
    changes = settings.columns()
    if clear_policies:
        changes["policy_allow_list"] = []
    if not changes:
        raise typer.BadParameter("nothing to change: give at least one option")
    ctx = context()
    upgrade(ctx.engine)
    with ctx.transaction() as s:
        muni = tenancy.get_municipality(s, code.strip().upper())
        for column, value in changes.items():
            setattr(muni, column, value)
        typer.echo(f"updated {muni.code}: {', '.join(sorted(changes))}")


@app.command("show")
def show(code: str = typer.Argument(...)) -> None:
    """Print a municipality's login and seal settings."""
    ctx = context()
    with ctx.transaction() as s:
        m = tenancy.get_municipality(s, code.strip().upper())
        rows = {
            "code": m.code, "name": m.name, "cif": m.cif or "-",
            "trust_store": " ".join(m.trust_store or []) or "-",
            "policy_allow_list": " ".join(m.policy_allow_list or []) or "-",
            "seal_key": m.seal_key or "-", "seal_cert": m.seal_cert or "-",
            "tsa_url": m.tsa_url or "-",
            "revocation": "soft-fail" if m.revocation_soft_fail else "hard-fail",
        }
    for key, value in rows.items():
        typer.echo(f"{key}\t{value}")


@app.command("list")
def list_() -> None:
    """List municipalities with their offices."""
    ctx = context()
    with ctx.transaction() as s:
        for m in tenancy.list_municipalities(s):
            offices = ", ".join(o.code for o in m.offices) or "-"
            typer.echo(f"{m.code}\t{m.name}\toffices: {offices}")


@app.command("holiday")
def holiday(
    code: str,
    day: str = typer.Argument(..., help="YYYY-MM-DD"),
    scope: str = typer.Option("local", help="national, regional or local"),
    name: str = typer.Option(""),
) -> None:
    """Add a non-working day to a municipality's calendar."""
    ctx = context()
    with ctx.transaction() as s:
        tenancy.add_non_working_day(s, code, date.fromisoformat(day), scope, name)
    typer.echo(f"{day} is a non-working day in {code}")
