"""``elocal login``: challenge–response from the command line with a demo PKCS#12 file."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from api.cli import app
from api.context import Context


def test_login_with_p12_saves_a_working_cookie(
    live: Any, ctx: Context, demo_code: str, tmp_path: Path
) -> None:
    jar = tmp_path / "cookie"
    p12 = ctx.settings.pki_dir / "people" / "employee.p12"
    r = CliRunner().invoke(
        app,
        [
            "login",
            "--municipality",
            demo_code,
            "--server",
            live.url,
            "--p12",
            str(p12),
            "--password",
            "demo",
            "--save",
            str(jar),
        ],
    )
    assert r.exit_code == 0, r.output
    me = json.loads(r.output)
    assert (me["capacity"], me["roles"], me["amr"]) == ("employee", ["registrar"], ["x509", "pop"])
    assert stat.S_IMODE(jar.stat().st_mode) == 0o600
    name, _, value = jar.read_text().strip().partition("=")
    with httpx.Client(base_url=live.url, cookies={name: value}) as c:
        assert c.get("/me").json()["subject"] == "11111111H"


def test_refused_login_exits_non_zero(live: Any, ctx: Context, demo_code: str) -> None:
    people = ctx.settings.pki_dir / "people"
    r = CliRunner().invoke(
        app,
        [
            "login",
            "--municipality",
            demo_code,
            "--server",
            live.url,
            "--cert",
            str(people / "revoked.pem"),
            "--key",
            str(people / "revoked.key.pem"),
        ],
    )
    assert r.exit_code == 1 and "revoked" in r.output
