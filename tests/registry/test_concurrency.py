"""Thousands of simultaneous submissions to several uvicorn workers on PostgreSQL.

Numbering must come out as exactly 1..N per office, year and kind, the registry
log must pass ``elocal registry audit``, every receipt must validate TOTAL_PASSED
and pdfsig must accept every receipt PDF.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import text

from api.context import Context
from api.settings import Settings
from identity.sessions import SESSION_COOKIE
from signing.validation import Indication, validate
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, require_tool
from tests.registry.conftest import entry_body, principal, submit
from tests.registry.workers import REPO, uvicorn_workers, worker_env

#: Submissions in the run (``ELOCAL_REGISTRY_LOAD`` lowers it for a quick local check).
#: Every receipt is sealed twice (PAdES and XAdES B-T) under the municipality's lock
#: (see bench/README.md), so this is the suite's longest test.
TOTAL = int(os.environ.get("ELOCAL_REGISTRY_LOAD", "2000"))
CLIENTS = 48
WORKERS = 2

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (TEST_DATABASE_URL and TEST_REDIS_URL),
                       reason="needs PostgreSQL and Redis (ELOCAL_TEST_DATABASE_URL/REDIS_URL)"),
]


def _validate_file(path: str, root_pem: bytes) -> Any:
    report = validate(Path(path).read_bytes(),
                      trust_roots=[x509.load_pem_x509_certificate(root_pem)])
    return report.indication.value if report.indication is Indication.TOTAL_PASSED \
        else report.to_json()


def _plan(demo: str, second: str) -> list[tuple[str, str, int]]:
    """(municipality, kind, caller) for each submission: entries in both, exits in one."""
    plan = []
    for i in range(TOTAL):
        if i % 10 == 9:
            plan.append((demo, "exits", 0))
        else:
            plan.append((demo if i % 2 else second, "entries", 1 + i % 8))
    return plan


def test_concurrent_submissions_are_gapless_audited_and_sealed(
    ctx: Context, live: Any, settings: Settings, demo_code: str, second_code: str,
    tmp_path: Path,
) -> None:
    pdfsig = require_tool("pdfsig")
    callers: dict[tuple[str, int], str] = {}
    for muni in (demo_code, second_code):
        callers[(muni, 0)] = ctx.login_sessions.open(principal(
            muni, capacity="employee", nif="00000001R", roles=("registrar",), name="Registro"))
        for n in range(1, 9):
            callers[(muni, n)] = ctx.login_sessions.open(principal(
                muni, nif=f"{10000000 + n}A", name=f"Persona {n}"))

    plan = _plan(demo_code, second_code)
    with uvicorn_workers(settings, WORKERS) as (url, _):
        def one(item: tuple[str, str, int]) -> httpx.Response:
            muni, kind, who = item
            body = entry_body(destination_unit="LA0099902" if muni == demo_code
                              else "LA0099801")
            if kind == "exits":
                body = entry_body(destination_unit=None, origin_unit="LA0099901",
                                  interested=[{"id_type": "NIF", "id_number": "12345678Z",
                                               "name": "Destinataria"}])
            with httpx.Client(base_url=url, timeout=300,
                              cookies={SESSION_COOKIE: callers[(muni, who)]}) as c:
                return submit(c, muni, body, kind=kind,
                              files=[("nota.txt", f"nota {who}".encode(), "text/plain")])

        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            responses = list(pool.map(one, plan))
        elapsed = time.monotonic() - started
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: TOTAL}, [r.text for r in responses if r.status_code != 201][:3]
        print(f"\n{TOTAL} registrations with sealed receipts, {WORKERS} workers: "
              f"{elapsed:.1f} s, {TOTAL / elapsed:.1f}/s")

        # Numbering: exactly 1..N per office, year and kind; no gap, no duplicate.
        with ctx.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT office_code, year, kind, number FROM registry_entry")).all()
            counters = {(o, y, k): last for o, y, k, last in conn.execute(text(
                "SELECT office_code, year, kind, last FROM registry_counter"))}
        series: dict[tuple[str, int, str], list[int]] = defaultdict(list)
        for office, year, kind, number in rows:
            series[(office, year, kind)].append(number)
        assert len(rows) == TOTAL
        for key, numbers in series.items():
            assert sorted(numbers) == list(range(1, len(numbers) + 1)), key
            assert counters[key] == len(numbers)
        expected = Counter((m, "S" if k == "exits" else "E") for m, k, _ in plan)
        assert sorted(len(v) for v in series.values()) == sorted(expected.values())

        # The log: the auditor's own client recomputes it over HTTP.
        phase = time.monotonic()
        for muni in (demo_code, second_code):
            audit = subprocess.run(
                [sys.executable, "-m", "api.cli", "registry", "audit", "--url", url,
                 "--municipality", muni], cwd=REPO, env=worker_env(settings, url),
                capture_output=True, text=True, timeout=600)
            assert audit.returncode == 0, audit.stdout + audit.stderr
        print(f"audited both logs in {time.monotonic() - phase:.1f} s")

    # Every receipt validates TOTAL_PASSED, and pdfsig accepts every receipt PDF.
    phase = time.monotonic()
    receipts = [(r.json()["receipt"]["pdf_sha256"], r.json()["receipt"]["xml_sha256"])
                for r in responses]
    root_pem = ctx.pki.root.public_bytes(Encoding.PEM)
    paths = [str(ctx.blobs.path(d)) for pair in receipts for d in pair]
    # Validation is CPU-bound: one process per core, forked from this one.
    with ProcessPoolExecutor(os.cpu_count() or 2,
                             mp_context=multiprocessing.get_context("fork")) as pool:
        outcomes = list(pool.map(_validate_file, paths, [root_pem] * len(paths), chunksize=16))
    failed = [o for o in outcomes if o != Indication.TOTAL_PASSED.value]
    assert not failed, failed[:2]
    print(f"validated {2 * TOTAL} receipts in {time.monotonic() - phase:.1f} s")
    phase = time.monotonic()
    bad = []
    for pdf_digest, _ in receipts:
        out = subprocess.run([pdfsig, str(ctx.blobs.path(pdf_digest))], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0 or "Signature is Valid" not in out.stdout:
            bad.append(out.stdout + out.stderr)
    assert not bad, bad[:2]
    print(f"pdfsig checked {TOTAL} receipts in {time.monotonic() - phase:.1f} s")
