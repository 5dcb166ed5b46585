"""`make run` on a fresh clone sets everything up and serves a ready service."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_DATABASE_URL, free_port

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(TEST_DATABASE_URL is not None,
                    reason="runs once, in the embedded-defaults pass of the suite")
def test_make_run_on_a_fresh_clone_serves_readyz_and_mtls(tmp_path: Path) -> None:
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                      capture_output=True).returncode != 0:
        pytest.fail("the repository has no commit to clone")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    http, https = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELOCAL_", "VIRTUAL_ENV"))}
    env.update(ELOCAL_HTTP_PORT=str(http), ELOCAL_HTTPS_PORT=str(https),
               ELOCAL_PUBLIC_URL=f"http://127.0.0.1:{http}")
    log = (tmp_path / "make-run.log").open("wb")
    proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{http}/readyz", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        output = (tmp_path / "make-run.log").read_text(errors="replace")[-3000:]
        assert ready is not None and ready.status_code == 200, output
        assert ready.json()["status"] == "ready"
        assert (clone / "elocal-data" / "elocal.db").exists()
        assert (clone / "elocal-data" / "pki" / "root.pem").exists(), output
        munis = httpx.get(f"http://127.0.0.1:{http}/municipalities", timeout=5).json()
        assert "L01289993" in {m["code"] for m in munis}

        # The HTTPS listener serves the demo TLS certificate and logs the demo
        # citizen in from the client certificate of the TLS handshake.
        pki = clone / "elocal-data" / "pki"
        tls = ssl.create_default_context(cafile=str(pki / "root.pem"))
        tls.load_cert_chain(pki / "people" / "citizen.pem", pki / "people" / "citizen.key.pem")
        with httpx.Client(base_url=f"https://127.0.0.1:{https}", verify=tls, timeout=10) as c:
            login = c.get("/login/certificate", params={"municipality": "L01289993"})
        assert login.status_code == 200, login.text
        assert (login.json()["subject"], login.json()["amr"]) == ("99999999R", ["x509", "mtls"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
