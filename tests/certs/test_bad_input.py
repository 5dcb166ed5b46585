"""Bad input to the PKI endpoints and CLI gets clean, specific errors."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from api.context import Context
from certs import revocation
from certs.ocsp import MAX_REQUEST_BYTES
from certs.store import Pki
from tests.certs.conftest import InProcessCli, cert_of

OCSP_HEADERS = {"content-type": "application/ocsp-request"}


def assert_problem(r: object, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = r.json()  # type: ignore[attr-defined]
    assert body["code"] == code
    assert body["status"] == status
    return body


def test_an_ocsp_post_that_is_not_der_is_a_problem(client: TestClient) -> None:
    for body in (b"hello, responder", b"\x30\x03\x02\x01", b""):
        r = client.post("/pki/ocsp", content=body, headers=OCSP_HEADERS)
        assert_problem(r, 400, "ocsp_malformed_request")


def test_an_ocsp_get_that_is_not_base64_der_is_a_problem(client: TestClient) -> None:
    assert_problem(client.get("/pki/ocsp/not*base64!"), 400, "ocsp_malformed_request")
    junk = base64.b64encode(b"definitely not an OCSP request").decode()
    assert_problem(client.get(f"/pki/ocsp/{junk}"), 400, "ocsp_malformed_request")


def test_an_ocsp_post_with_the_wrong_media_type_is_refused(client: TestClient) -> None:
    r = client.post("/pki/ocsp", content=b"\x30\x00", headers={"content-type": "text/plain"})
    assert_problem(r, 415, "unsupported_media_type")


def test_an_oversized_ocsp_request_is_refused_before_parsing(client: TestClient) -> None:
    r = client.post("/pki/ocsp", content=b"\x30" * (MAX_REQUEST_BYTES + 1),
                    headers=OCSP_HEADERS)
    assert_problem(r, 413, "payload_too_large")


def test_unknown_ca_names_are_404_problems(client: TestClient) -> None:
    assert_problem(client.get("/pki/crl/nonexistent.crl"), 404, "unknown_ca")
    assert_problem(client.get("/pki/crl/ROOT.crl"), 404, "unknown_ca")
    assert_problem(client.get("/pki/ca/tsa.cer"), 404, "unknown_ca")


def test_cli_revoke_of_an_unknown_serial_fails_clearly(cli: InProcessCli) -> None:
    result = cli("pki", "revoke", "0xdeadbeef", "--reason", "keyCompromise")
    assert result.returncode == 1
    assert "unknown_certificate" in result.stderr
    assert "deadbeef" in result.stderr.lower()


def test_revoke_rejects_an_unknown_reason_a_malformed_serial_and_a_second_revocation(
        ctx: Context, pki: Pki) -> None:
    serial = cert_of(pki, "people/citizen").serial_number
    with ctx.transaction() as s:
        with pytest.raises(revocation.InvalidRevocationReason):
            revocation.revoke(s, serial, "boredom")
        with pytest.raises(revocation.InvalidSerial):
            revocation.revoke(s, "not-a-serial", "keyCompromise")
        with pytest.raises(revocation.AlreadyRevoked):
            revocation.revoke(s, cert_of(pki, "people/revoked").serial_number, "superseded")
        assert revocation.find(s, serial).status == "good"


def test_cli_revokes_by_decimal_serial(cli: InProcessCli, pki: Pki) -> None:
    serial = str(cert_of(pki, "people/dnie").serial_number)
    wrong_ca = cli("pki", "revoke", serial, "--ca", "nowhere")
    assert wrong_ca.returncode == 1 and "unknown_ca" in wrong_ca.stderr
    # The serial exists under the issuing CA only: naming the root finds nothing.
    root_ca = cli("pki", "revoke", serial, "--ca", "root")
    assert root_ca.returncode == 1 and "unknown_certificate" in root_ca.stderr
    first = cli("pki", "revoke", serial, "--reason", "affiliationChanged", "--ca", "issuing")
    assert first.returncode == 0, first.stderr
    assert "people/dnie" in first.stdout
    listing = cli("pki", "list")
    dnie_line = next(line for line in listing.stdout.splitlines() if "people/dnie" in line)
    assert "revoked:affiliationChanged" in dnie_line
