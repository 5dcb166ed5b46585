"""Run eLocal as separate uvicorn worker processes against the test PostgreSQL/Redis."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.settings import Settings
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings, public_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ELOCAL_DATA_DIR": str(settings.data_dir),
        "ELOCAL_DATABASE_URL": settings.resolved_database_url,
        "ELOCAL_REDIS_URL": settings.redis_url or "",
        "ELOCAL_REDIS_PREFIX": settings.redis_prefix,
        "ELOCAL_PUBLIC_URL": public_url,
        "PYTHONPATH": str(REPO),
    })
    return env


def _die_with_parent() -> None:
    """Linux: SIGTERM the server if pytest itself is killed (a timeout, Ctrl-C twice)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextmanager
def uvicorn_workers(settings: Settings, workers: int
                    ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``uvicorn api.asgi:app --workers N`` on a free port; yields (base URL, process).

    The workers' public URL is their own address, so that the seal's time-stamps
    (``/tsa``) are served by the workers themselves, as in a deployment.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args, cwd=REPO, env=worker_env(settings, url),
                            start_new_session=True, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {proc.returncode}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn workers did not start")
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
