"""Direct mutual TLS against eLocal's own HTTPS listener, with the demo PKCS#12 files.

Revocation goes through the live OCSP responder (the demo certificates' AIA).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.context import Context
from tests.identity.conftest import Servers, tls_client

EXPECTED = {
    "citizen": ("99999999R", "citizen", "substantial", []),
    "dnie": ("12345678Z", "citizen", "high", []),
    "representative": ("X1234567L", "representative", "substantial", []),
    "employee": ("11111111H", "employee", "substantial", ["registrar"]),
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_each_demo_certificate_logs_in(
    ctx: Context,
    servers: Servers,
    person_pems: dict[str, tuple[Path, Path]],
    demo_code: str,
    who: str,
) -> None:
    with tls_client(ctx, person_pems[who], base_url=servers.https_url) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        me = c.get("/me").json()
    subject, capacity, loa, roles = EXPECTED[who]
    assert (me["subject"], me["capacity"], me["loa"], me["roles"]) == (
        subject,
        capacity,
        loa,
        roles,
    )
    assert me["amr"] == ["x509", "mtls"] and me["municipality"] == demo_code
    if who == "representative":
        assert me["identity"]["acting_for"] == {"cif": "B12345674", "name": "EMPRESA DEMO SL"}
    if who == "employee":
        assert me["identity"]["entity_cif"] == "P2899900A" and me["identity"]["post"]


def test_employee_is_registrar_only_where_granted(
    ctx: Context, servers: Servers, person_pems: dict[str, tuple[Path, Path]], second_code: str
) -> None:
    with tls_client(ctx, person_pems["employee"], base_url=servers.https_url) as c:
        r = c.get("/login/certificate", params={"municipality": second_code})
    assert r.status_code == 200 and r.json()["roles"] == []


def test_revoked_is_refused_through_live_ocsp(
    ctx: Context, servers: Servers, person_pems: dict[str, tuple[Path, Path]], demo_code: str
) -> None:
    with tls_client(ctx, person_pems["revoked"], base_url=servers.https_url) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code})
    assert r.status_code == 401 and r.json()["code"] == "revoked"
    assert "OCSP" in r.json()["detail"]


def test_expired_reaches_the_application_and_is_refused(
    ctx: Context, servers: Servers, person_pems: dict[str, tuple[Path, Path]], demo_code: str
) -> None:
    with tls_client(ctx, person_pems["expired"], base_url=servers.https_url) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code})
    assert r.status_code == 401 and r.json()["code"] == "expired"


def test_unknown_ca_is_refused_by_the_tls_layer(
    ctx: Context, servers: Servers, tmp_path: Path, demo_code: str
) -> None:
    from tests.identity.conftest import TestPki

    stranger = TestPki("Stranger").citizen()
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(stranger.pem + TestPki("Stranger2").issuing.pem)
    key.write_bytes(stranger.key_pem)
    with (
        tls_client(ctx, (cert, key), base_url=servers.https_url) as c,
        pytest.raises(httpx.TransportError),
    ):
        c.get("/login/certificate", params={"municipality": demo_code})


def test_no_certificate_and_header_on_direct_connection(
    ctx: Context, servers: Servers, person_pems: dict[str, tuple[Path, Path]], demo_code: str
) -> None:
    pem = person_pems["citizen"][0].read_text()
    with tls_client(ctx, base_url=servers.https_url) as c:
        r = c.get(
            "/login/certificate",
            params={"municipality": demo_code},
            headers={"X-SSL-Client-Cert": pem.replace("\n", "%0A"), "X-Forwarded-For": "127.0.0.2"},
        )
    assert r.status_code == 401 and r.json()["code"] == "no_client_certificate"


def test_logout_is_not_undone_by_the_tls_connection(
    ctx: Context, servers: Servers, person_pems: dict[str, tuple[Path, Path]], demo_code: str
) -> None:
    with tls_client(ctx, person_pems["citizen"], base_url=servers.https_url) as c:
        assert c.get("/login/certificate", params={"municipality": demo_code}).status_code == 200
        assert c.get("/me").status_code == 200
        assert c.post("/logout").status_code == 204
        assert c.get("/me").status_code == 401  # same connection, same client certificate


def test_redirect_after_login(
    ctx: Context, servers: Servers, person_pems: dict[str, tuple[Path, Path]], demo_code: str
) -> None:
    with tls_client(ctx, person_pems["dnie"], base_url=servers.https_url) as c:
        r = c.get("/login/certificate", params={"municipality": demo_code, "next": "/me"})
        assert r.status_code == 303 and r.headers["location"] == "/me"
        r = c.get(
            "/login/certificate",
            params={"municipality": demo_code, "next": "https://evil.example/"},
        )
        assert r.status_code == 422
