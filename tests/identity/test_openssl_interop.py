"""Interoperability with OpenSSL's command-line tools (nobody here wrote them).

- ``openssl pkcs12`` unpacks the demo PKCS#12 file and ``openssl dgst -sign`` answers a
  login challenge;
- ``openssl s_client`` logs in over mutual TLS.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

from api.context import Context
from tests.conftest import require_tool
from tests.identity.conftest import Servers


def test_openssl_signs_the_challenge(
    live: Any, ctx: Context, demo_code: str, tmp_path: Path
) -> None:
    openssl = require_tool("openssl")
    p12 = ctx.settings.pki_dir / "people" / "representative.p12"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "pkcs12",
            "-in",
            str(p12),
            "-passin",
            "pass:demo",
            "-nodes",
            "-nocerts",
            "-out",
            str(key),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            openssl,
            "pkcs12",
            "-in",
            str(p12),
            "-passin",
            "pass:demo",
            "-clcerts",
            "-nokeys",
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    with live.client() as c:
        challenge = c.post("/login/challenge", params={"municipality": demo_code}).json()
        # The documented text, built by hand as a shell script would.
        text = f"elocal-login-v1:{live.url}:{demo_code}:{challenge['nonce']}"
        assert challenge["message"] == text and challenge["origin"] == live.url
        message = tmp_path / "message"
        message.write_text(text)
        signature = subprocess.run(
            [openssl, "dgst", "-sha256", "-sign", str(key), str(message)],
            check=True,
            capture_output=True,
        ).stdout
        r = c.post(
            "/login/challenge/response",
            json={
                "municipality": demo_code,
                "nonce": challenge["nonce"],
                "signature": base64.urlsafe_b64encode(signature).decode().rstrip("="),
                "certificate": cert.read_text(),
            },
        )
        assert r.status_code == 200, r.text
        me = c.get("/me").json()
    assert (me["capacity"], me["subject"]) == ("representative", "X1234567L")
    assert me["identity"]["acting_for"]["cif"] == "B12345674"


def test_openssl_s_client_mutual_tls(
    ctx: Context, servers: Servers, person_pems: dict[str, tuple[Path, Path]], demo_code: str
) -> None:
    openssl = require_tool("openssl")
    cert, key = person_pems["dnie"]
    request = (
        f"GET /login/certificate?municipality={demo_code} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    out = subprocess.run(
        [
            openssl,
            "s_client",
            "-quiet",
            "-connect",
            f"127.0.0.1:{servers.https_port}",
            "-cert",
            str(cert),
            "-key",
            str(key),
            "-CAfile",
            str(ctx.settings.pki_dir / "root.pem"),
            "-verify_return_error",
        ],
        input=request.encode(),
        capture_output=True,
        timeout=60,
    )
    response = out.stdout.decode(errors="replace")
    assert response.startswith("HTTP/1.1 200"), response + out.stderr.decode(errors="replace")
    assert '"subject":"12345678Z"' in response and '"loa":"high"' in response
    assert "elocal_session=" in response
