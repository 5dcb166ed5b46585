"""Behind a real nginx (Debian): the certificate arrives in ``X-SSL-Client-Cert``.

nginx terminates TLS with ``ssl_verify_client optional_no_ca`` and forwards
``$ssl_client_escaped_cert`` from 127.0.0.2 (``proxy_bind``), the test settings'
only trusted proxy. eLocal rebuilds the chain from the municipality's trust store
and checks revocation itself. The same header sent straight to eLocal from
127.0.0.1 is ignored.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.context import Context
from tests.conftest import free_port, require_tool
from tests.identity.conftest import Servers, TestPki, tls_client

NGINX_CONF = """
worker_processes 1;
master_process off;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/fullchain.pem;
        ssl_certificate_key {pki}/tls/server.key.pem;
        # eLocal validates; nginx only proves possession of the key.
        ssl_verify_client optional_no_ca;
        # nginx answers 495 when the certificate fails its own checks (expired,
        # say); hand those requests to eLocal too, which gives the precise reason.
        error_page 495 = @elocal;
        location / {{
            try_files /nonexistent @elocal;
        }}
        location @elocal {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_bind 127.0.0.2;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(
    servers: Servers, session_ctx: Context, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    binary = require_tool("nginx")
    work = tmp_path_factory.mktemp("nginx")
    port = free_port()
    pki = session_ctx.settings.pki_dir.resolve()
    (work / "fullchain.pem").write_bytes(
        (pki / "tls" / "server.pem").read_bytes() + (pki / "issuing.pem").read_bytes()
    )
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=work, port=port, upstream=servers.http_port, pki=pki))
    proc = subprocess.Popen(
        [binary, "-p", str(work), "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url + "/health", verify=False, timeout=1)  # noqa: S501 - readiness only
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read().decode() if proc.stderr else ""
                log = (work / "error.log").read_text() if (work / "error.log").exists() else ""
                pytest.fail(f"nginx did not start: {err} {log}")
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("who", "subject", "capacity", "loa"),
    [
        ("citizen", "99999999R", "citizen", "substantial"),
        ("dnie", "12345678Z", "citizen", "high"),
        ("representative", "X1234567L", "representative", "substantial"),
        ("employee", "11111111H", "employee", "substantial"),
    ],
)
def test_login_through_nginx(
    ctx: Context,
    nginx: str,
    person_pems: dict[str, tuple[Path, Path]],
    demo_code: str,
    who: str,
    subject: str,
    capacity: str,
    loa: str,
) -> None:
    with tls_client(ctx, person_pems[who], base_url=nginx) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code})
        assert r.status_code == 200, r.text
        me = c.get("/me").json()
    assert (me["subject"], me["capacity"], me["loa"]) == (subject, capacity, loa)


@pytest.mark.parametrize(("who", "code"), [("revoked", "revoked"), ("expired", "expired")])
def test_refusals_through_nginx(
    ctx: Context,
    nginx: str,
    person_pems: dict[str, tuple[Path, Path]],
    demo_code: str,
    who: str,
    code: str,
) -> None:
    with tls_client(ctx, person_pems[who], base_url=nginx) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code})
    assert r.status_code == 401 and r.json()["code"] == code


def test_unknown_ca_through_nginx_is_untrusted(
    ctx: Context, nginx: str, tmp_path: Path, demo_code: str
) -> None:
    stranger = TestPki("Stranger").citizen()
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(stranger.pem)
    key.write_bytes(stranger.key_pem)
    with tls_client(ctx, (cert, key), base_url=nginx) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code})
    assert r.status_code == 401 and r.json()["code"] == "untrusted"


def test_header_from_an_untrusted_address_is_ignored(
    servers: Servers, nginx: str, person_pems: dict[str, tuple[Path, Path]], demo_code: str
) -> None:
    from urllib.parse import quote

    escaped = quote(person_pems["citizen"][0].read_text(), safe="")
    with httpx.Client(base_url=servers.http_url, timeout=30) as c:  # from 127.0.0.1
        r = c.get(
            "/login/certificate",
            params={"municipality": demo_code},
            headers={"X-SSL-Client-Cert": escaped, "X-Forwarded-For": "127.0.0.2"},
        )
    assert r.status_code == 401 and r.json()["code"] == "no_client_certificate"
    assert "elocal_session" not in r.headers.get("set-cookie", "")


def test_no_certificate_through_nginx(ctx: Context, nginx: str, demo_code: str) -> None:
    with tls_client(ctx, base_url=nginx) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code})
    assert r.status_code == 401 and r.json()["code"] == "no_client_certificate"
