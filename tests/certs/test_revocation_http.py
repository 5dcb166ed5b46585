"""CRL and OCSP over real HTTP, checked with openssl; revocation through the CLI."""

from __future__ import annotations

import base64
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from certs.ocsp import MAX_NONCE_BYTES
from certs.store import Pki
from tests.certs.conftest import CliRunner, cert_of
from tests.conftest import LiveServer


def run_ocsp(openssl: str, pki: Pki, live: LiveServer, cert: Path, *extra: str) -> str:
    out = subprocess.run(
        [openssl, "ocsp", "-issuer", str(pki.dir / "issuing.pem"), "-cert", str(cert),
         "-url", f"{live.url}/pki/ocsp", "-CAfile", str(pki.root_path), *extra],
        capture_output=True, text=True, timeout=30,
    )
    return out.stdout + out.stderr


def crl_serials(openssl_text: str) -> set[int]:
    """Serial numbers listed by ``openssl crl -text``."""
    return {int(line.split(":", 1)[1].strip(), 16) for line in openssl_text.splitlines()
            if line.strip().startswith("Serial Number:")}


def fetch_crl(live: LiveServer, ca: str = "issuing") -> x509.CertificateRevocationList:
    with live.client() as c:
        r = c.get(f"/pki/crl/{ca}.crl")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(r.content)


def test_ocsp_answers_good_for_a_valid_certificate_verified_against_the_responder(
        openssl: str, pki: Pki, live: LiveServer) -> None:
    citizen = pki.dir / "people/citizen.pem"
    out = run_ocsp(openssl, pki, live, citizen, "-VAfile", str(pki.dir / "ocsp/ocsp.pem"))
    assert "Response verify OK" in out
    assert f"{citizen}: good" in out
    # openssl sends a nonce by default and complains when it is not echoed.
    assert "nonce" not in out.lower()
    assert "This Update" in out and "Next Update" in out
    # The same response also verifies through the chain (delegated responder, root anchor).
    chained = run_ocsp(openssl, pki, live, citizen, "-verify_other", str(pki.dir / "issuing.pem"))
    assert "Response verify OK" in chained and ": good" in chained


def test_ocsp_reports_the_revoked_sample_with_time_and_reason(
        openssl: str, pki: Pki, live: LiveServer) -> None:
    out = run_ocsp(openssl, pki, live, pki.dir / "people/revoked.pem",
                   "-VAfile", str(pki.dir / "ocsp/ocsp.pem"))
    assert "Response verify OK" in out
    assert ": revoked" in out
    assert "Reason: keyCompromise" in out
    assert "Revocation Time" in out


def test_ocsp_answers_unknown_for_a_certificate_the_ca_never_recorded(
        openssl: str, pki: Pki, live: LiveServer, tmp_path: Path) -> None:
    # Signed with the real issuing key, but never recorded: the responder must not say good.
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    stray = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "stray")]))
        .issuer_name(pki.issuing.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .sign(pki.issuing_key, hashes.SHA256())
    )
    path = tmp_path / "stray.pem"
    path.write_bytes(stray.public_bytes(serialization.Encoding.PEM))
    out = run_ocsp(openssl, pki, live, path, "-VAfile", str(pki.dir / "ocsp/ocsp.pem"))
    assert "Response verify OK" in out
    assert f"{path}: unknown" in out


def test_revoking_through_the_cli_shows_in_ocsp_and_crl_at_once(
        openssl: str, pki: Pki, live: LiveServer, elocal: CliRunner, tmp_path: Path) -> None:
    citizen = cert_of(pki, "people/citizen")
    serial_hex = format(citizen.serial_number, "X")
    before = fetch_crl(live)
    assert before.get_revoked_certificate_by_serial_number(citizen.serial_number) is None

    result = elocal("pki", "revoke", serial_hex, "--reason", "superseded")
    assert result.returncode == 0, result.stderr
    assert "revoked" in result.stdout

    out = run_ocsp(openssl, pki, live, pki.dir / "people/citizen.pem",
                   "-VAfile", str(pki.dir / "ocsp/ocsp.pem"))
    assert ": revoked" in out and "Reason: superseded" in out

    der = tmp_path / "issuing.crl"
    with live.client() as c:
        der.write_bytes(c.get("/pki/crl/issuing.crl").content)
    text = subprocess.run([openssl, "crl", "-inform", "DER", "-in", str(der), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert citizen.serial_number in crl_serials(text)
    assert "Superseded" in text
    assert "Next Update" in text
    after = fetch_crl(live)
    assert after.get_revoked_certificate_by_serial_number(citizen.serial_number) is not None
    number = after.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_crl_parses_verifies_and_lists_the_revoked_sample(
        openssl: str, pki: Pki, live: LiveServer, tmp_path: Path) -> None:
    der = tmp_path / "issuing.crl"
    with live.client() as c:
        der.write_bytes(c.get("/pki/crl/issuing.crl").content)
    out = subprocess.run(
        [openssl, "crl", "-inform", "DER", "-in", str(der), "-noout", "-text",
         "-CAfile", str(pki.chain_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "verify OK" in out.stderr + out.stdout
    assert cert_of(pki, "people/revoked").serial_number in crl_serials(out.stdout)
    assert "Key Compromise" in out.stdout
    assert "X509v3 CRL Number" in out.stdout


def test_root_crl_is_empty_and_signed_by_the_root(pki: Pki, live: LiveServer) -> None:
    crl = fetch_crl(live, "root")
    assert crl.issuer == pki.root.subject
    assert len(crl) == 0
    assert crl.is_signature_valid(pki.root.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc is not None and crl.next_update_utc > datetime.now(UTC)


def test_ocsp_get_form_echoes_the_nonce_and_the_root_answers_for_the_issuing_ca(
        pki: Pki, live: LiveServer) -> None:
    # RFC 6960 A.1 GET, for the issuing CA's own certificate (issued by the root).
    nonce = os.urandom(16)
    req = (ocsp.OCSPRequestBuilder()
           .add_certificate(pki.issuing, pki.root, hashes.SHA256())
           .add_extension(x509.OCSPNonce(nonce), critical=False).build())
    b64 = base64.b64encode(req.public_bytes(serialization.Encoding.DER)).decode()
    with live.client() as c:
        r = c.get(f"/pki/ocsp/{quote(b64, safe='')}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/ocsp-response"
    resp = ocsp.load_der_ocsp_response(r.content)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.serial_number == pki.issuing.serial_number
    assert resp.hash_algorithm.name == "sha256"
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert resp.signature_hash_algorithm is not None
    root_key = pki.root.public_key()
    assert isinstance(root_key, rsa.RSAPublicKey)
    root_key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(),
                    resp.signature_hash_algorithm)


def test_ocsp_refuses_an_oversized_nonce_in_protocol(pki: Pki, live: LiveServer) -> None:
    req = (ocsp.OCSPRequestBuilder()
           .add_certificate(cert_of(pki, "people/citizen"), pki.issuing, hashes.SHA256())
           .add_extension(x509.OCSPNonce(os.urandom(MAX_NONCE_BYTES + 1)), critical=False)
           .build())
    with live.client() as c:
        r = c.post("/pki/ocsp", content=req.public_bytes(serialization.Encoding.DER),
                   headers={"content-type": "application/ocsp-request"})
    assert r.status_code == 200
    status = ocsp.load_der_ocsp_response(r.content).response_status
    assert status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_request_for_two_certificates_gets_a_protocol_error(
        openssl: str, pki: Pki, live: LiveServer) -> None:
    out = run_ocsp(openssl, pki, live, pki.dir / "people/citizen.pem",
                   "-cert", str(pki.dir / "people/dnie.pem"))
    assert "Responder Error: malformedrequest" in out


def test_ocsp_for_a_ca_it_does_not_serve_is_unauthorized(pki: Pki, live: LiveServer) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Other CA")])
    other = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(key.public_key()).serial_number(1)
             .not_valid_before(now).not_valid_after(now + timedelta(days=1))
             .sign(key, hashes.SHA256()))
    req = ocsp.OCSPRequestBuilder().add_certificate(other, other, hashes.SHA1()).build()  # noqa: S303 (OCSP default)
    with live.client() as c:
        r = c.post("/pki/ocsp", content=req.public_bytes(serialization.Encoding.DER),
                   headers={"content-type": "application/ocsp-request"})
    assert r.status_code == 200
    status = ocsp.load_der_ocsp_response(r.content).response_status
    assert status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ca_certificates_are_published_in_der(pki: Pki, live: LiveServer) -> None:
    with live.client() as c:
        issuing = c.get("/pki/ca/issuing.cer")
        root = c.get("/pki/ca/root.cer")
    assert issuing.headers["content-type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(issuing.content) == pki.issuing
    assert x509.load_der_x509_certificate(root.content) == pki.root
