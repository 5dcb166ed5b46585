"""``elocal registry time`` and ``elocal registry receipt`` against the test database."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
from sqlalchemy import text

from api.context import Context
from api.settings import Settings
from tests.registry.conftest import submit
from tests.registry.workers import REPO, worker_env


def _elocal(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", "registry", *args], cwd=REPO,
                          env=worker_env(settings, settings.public_url), capture_output=True,
                          text=True, timeout=120)


def test_time_and_receipt_lookup(settings: Settings, citizen: httpx.Client,
                                 demo_code: str) -> None:
    out = _elocal(settings, "time", demo_code)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["time_zone"] == "Europe/Madrid"

    entry = submit(citizen, demo_code).json()
    code = entry["receipt"]["verification_code"]
    out = _elocal(settings, "receipt", code.lower())
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["number"] == entry["number"] and shown["status"] == "registered"
    assert "subject" not in shown and "presenter" not in shown

    missing = _elocal(settings, "receipt", "A" * 24)
    assert missing.returncode == 1 and "registry_receipt_not_found" in missing.stderr


def test_number_template_is_validated_and_shapes_new_numbers(
    settings: Settings, ctx: Context, citizen: httpx.Client, demo_code: str
) -> None:
    for bad, why in (("{year}/{kind}", "{number}"), ("{year}/{number:06d}", "{kind}"),
                     ("{kind}-{number}", "{year}"), ("{year}/{kind}/{numero}", "numero"),
                     ("{year}/{kind}/{number:06d", "does not format"),
                     ("{year}/{kind}/{number:.0}", "does not format"),
                     ("{year}/{kind}/{number}" + "x" * 60, "64 characters")):
        out = _elocal(settings, "template", demo_code, bad)
        assert out.returncode == 1, (bad, out.stdout)
        assert "registry_number_template_invalid" in out.stderr and why in out.stderr, (
            bad, out.stderr)
    assert submit(citizen, demo_code).json()["number"].endswith("/E/000001")

    out = _elocal(settings, "template", demo_code, "REG-{office}-{kind}{year}-{number:05d}")
    assert out.returncode == 0, out.stderr
    assert "REG-O00099901-E2026-00123" in out.stdout
    entry = submit(citizen, demo_code).json()
    year = entry["number"].split("-")[2][1:]
    assert entry["number"] == f"REG-O00099901-E{year}-00002"
    shown = citizen.get(f"/registry/{demo_code}/entries/{entry['id']}").json()
    assert shown["number"] == entry["number"]

    # A template broken in the database stops registrations instead of falling back.
    with ctx.engine.begin() as conn:
        conn.execute(text("UPDATE municipality SET number_template = '{kind}' "
                          "WHERE code = :c"), {"c": demo_code})
    broken = submit(citizen, demo_code)
    assert broken.status_code == 500, broken.text
    assert broken.json()["code"] == "registry_number_template_broken"
    listed = citizen.get(f"/registry/{demo_code}/entries").json()["entries"]
    assert len(listed) == 2 and listed[0]["id"] == entry["id"]
