"""``elocal registry time`` and ``elocal registry receipt`` against the test database."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

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
