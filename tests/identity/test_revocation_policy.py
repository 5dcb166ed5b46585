"""Hard-fail means revocation is required, and a client certificate never steers eLocal's fetches.

A certificate that names no OCSP responder and no CRL cannot be checked; under
hard-fail it is refused. A certificate from an unknown issuer must not make eLocal
download anything (its AIA caIssuers, OCSP or CRL URLs): anyone can make one.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from api.context import Context
from tests.identity.conftest import (
    Issued,
    TestPki,
    challenge_login,
    code_of,
    name,
    set_soft_fail,
)


def _citizen_name(nif: str) -> x509.Name:
    return name(
        (NameOID.COUNTRY_NAME, "ES"),
        (NameOID.SERIAL_NUMBER, f"IDCES-{nif}"),
        (NameOID.SURNAME, "PRUEBA PRUEBA"),
        (NameOID.GIVEN_NAME, "ANA"),
        (NameOID.COMMON_NAME, f"PRUEBA PRUEBA ANA - {nif}"),
    )


def _leaf(
    issuer: x509.Name, signer: Any, extensions: Sequence[x509.ExtensionType] = ()
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_citizen_name("12345678Z"))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    )
    for ext in extensions:
        builder = builder.add_extension(ext, False)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def test_demo_ca_leaf_without_revocation_pointers_is_refused_under_hard_fail(
    client: TestClient, ctx: Context, live: Any, demo_code: str
) -> None:
    """A real CA of the municipality issued it, but nobody can say it is not revoked."""
    pki = ctx.settings.pki_dir
    issuing = x509.load_pem_x509_certificate((pki / "issuing.pem").read_bytes())
    issuing_key = serialization.load_pem_private_key(
        (pki / "issuing.key.pem").read_bytes(), password=None
    )
    leaf = _leaf(issuing.subject, issuing_key)
    chain = [issuing.public_bytes(serialization.Encoding.PEM)]
    r = challenge_login(client, demo_code, leaf.pem, leaf.key, chain=chain)
    assert r.status_code == 401 and code_of(r) == "revocation_unavailable", r.text
    assert client.get("/me").status_code == 401
    set_soft_fail(ctx, demo_code)  # the explicit opt-in accepts it: only revocation was missing
    r = challenge_login(client, demo_code, leaf.pem, leaf.key, chain=chain)
    assert r.status_code == 200 and r.json()["subject"] == "12345678Z", r.text


def test_test_pki_leaf_without_revocation_is_refused_under_hard_fail(
    client: TestClient, test_pki: TestPki, test_municipality: str
) -> None:
    leaf = test_pki.citizen(revocation=False)
    r = challenge_login(client, test_municipality, leaf.pem, leaf.key)
    assert r.status_code == 401 and code_of(r) == "revocation_unavailable"


class Recorder:
    """A local HTTP server that notes every request it gets."""

    def __init__(self) -> None:
        hits: list[str] = []
        self.hits = hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def _note(self) -> None:
                hits.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.end_headers()

            do_GET = do_POST = _note

            def log_message(self, *_: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def _pointers(url: str) -> list[x509.ExtensionType]:
    return [
        x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(f"{url}/ca.cer")),
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(f"{url}/ocsp")),
        ]),
        x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(f"{url}/ca.crl")],
                                   None, None, None)
        ]),
    ]


@pytest.mark.parametrize("soft", [False, True])
def test_certificate_from_an_unknown_issuer_makes_elocal_fetch_nothing(
    client: TestClient, ctx: Context, test_municipality: str, recorder: Recorder, soft: bool
) -> None:
    set_soft_fail(ctx, test_municipality, soft)
    throwaway = ec.generate_private_key(ec.SECP256R1())
    issuer = name((NameOID.COUNTRY_NAME, "ES"), (NameOID.COMMON_NAME, "Nobody's CA"))
    leaf = _leaf(issuer, throwaway, _pointers(recorder.url))
    r = challenge_login(client, test_municipality, leaf.pem, leaf.key)
    assert r.status_code == 401 and code_of(r) == "untrusted"
    assert recorder.hits == []

