"""Three-phase signing: the citizen's key signs on "their device" (here, the test).

Pre-signing needs a login session and the session owner's own certificate; the token
completes once, in that session, with that certificate and a signature by its key.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from api.context import Context
from certs.keys import KeyMaterial
from signing.keys import to_asn1
from tests.logins import login_demo_person
from tests.signing.conftest import assert_pdfsig_valid

PRE, POST = "/signing/three-phase/pre", "/signing/three-phase/post"


def _device_sign(person: KeyMaterial, data: bytes) -> bytes:
    """What AutoFirma does on the citizen's machine."""
    key = person.key
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _pem(person: KeyMaterial) -> str:
    """The certificate and its chain, as the client sends them."""
    chain = [person.certificate, *(c for c in person.chain if c.subject != c.issuer)]
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)


def _pre_raw(http: Any, pdf: bytes, cert_pem: str, level: str = "B-B") -> Any:
    return http.post(PRE, data={"certificate": cert_pem, "level": level},
                     files={"document": ("solicitud.pdf", pdf, "application/pdf")})


def _pre(http: Any, pdf: bytes, cert_pem: str, level: str = "B-B") -> dict[str, str]:
    res = _pre_raw(http, pdf, cert_pem, level)
    assert res.status_code == 200, res.text
    return res.json()  # type: ignore[no-any-return]


def _post(http: Any, token: str, person: KeyMaterial, signature: bytes) -> Any:
    return http.post(POST, json={"token": token, "certificate": _pem(person),
                                 "signature": base64.b64encode(signature).decode()})


def _problem(res: Any, status: int, code: str) -> None:
    assert res.status_code == status, res.text
    assert res.headers["content-type"] == "application/problem+json"
    assert res.json()["code"] == code


@pytest.fixture
def citizen(client: TestClient, ctx: Context, live: Any, demo_code: str) -> TestClient:
    """The test client, logged in as the demo citizen."""
    login_demo_person(client, ctx, "citizen", demo_code)
    return client


def test_three_phase_b_t_signature_is_valid(live, ctx: Context, demo_code: str,
                                            one_page_pdf: bytes, nss_db: Path,
                                            tmp_path: Path) -> None:
    person = ctx.pki.person("citizen")
    with live.client() as http:
        login_demo_person(http, ctx, "citizen", demo_code)
        pre = _pre(http, one_page_pdf, _pem(person), "B-T")
        signature = _device_sign(person, base64.b64decode(pre["data_to_sign"]))
        res = _post(http, pre["token"], person, signature)
        assert res.status_code == 200, res.text
        # Single use: the same token cannot complete a second document.
        _problem(_post(http, pre["token"], person, signature), 410, "presign_expired")

    sig = PdfFileReader(io.BytesIO(res.content)).embedded_signatures[0]
    assert sig.signer_cert.dump() == to_asn1(person.certificate).dump()
    status = validate_pdf_signature(sig, signer_validation_context=ValidationContext(
        trust_roots=[to_asn1(ctx.pki.root)], allow_fetching=True))
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    path = tmp_path / "three-phase.pdf"
    path.write_bytes(res.content)
    assert_pdfsig_valid(path, nss_db)


def test_pre_signing_needs_a_session_and_the_persons_own_certificate(
        client: TestClient, ctx: Context, live: Any, demo_code: str,
        one_page_pdf: bytes) -> None:
    person, other = ctx.pki.person("citizen"), ctx.pki.person("dnie")
    _problem(_pre_raw(client, one_page_pdf, _pem(person)), 401, "unauthenticated")
    _problem(client.post(POST, json={"token": "a.b", "certificate": _pem(person),
                                     "signature": "AAAA"}), 401, "unauthenticated")
    login_demo_person(client, ctx, "citizen", demo_code)
    _problem(_pre_raw(client, one_page_pdf, _pem(other)), 403, "certificate_not_yours")


def test_token_is_bound_to_the_certificate_and_signature_is_checked(
        citizen: TestClient, ctx: Context, one_page_pdf: bytes) -> None:
    person, other = ctx.pki.person("citizen"), ctx.pki.person("dnie")
    pre = _pre(citizen, one_page_pdf, _pem(person))
    tbs = base64.b64decode(pre["data_to_sign"])
    # Someone else's certificate and signature cannot complete the citizen's document.
    _problem(_post(citizen, pre["token"], other, _device_sign(other, tbs)), 403,
             "presign_binding_mismatch")
    # The citizen's certificate with a signature by another key.
    res = citizen.post(POST, json={"token": pre["token"], "certificate": _pem(person),
                                   "signature": base64.b64encode(
                                       _device_sign(other, tbs)).decode()})
    _problem(res, 422, "invalid_signature_value")

    pre = _pre(citizen, one_page_pdf, _pem(person))
    _problem(_post(citizen, pre["token"], person, _device_sign(person, b"something else")),
             422, "invalid_signature_value")
    _problem(_post(citizen, "forged.token", person, b"\0" * 64), 410, "presign_expired")


def test_another_session_cannot_complete_the_document(
        citizen: TestClient, app: Any, ctx: Context, demo_code: str,
        one_page_pdf: bytes) -> None:
    person = ctx.pki.person("citizen")
    pre = _pre(citizen, one_page_pdf, _pem(person))
    signature = _device_sign(person, base64.b64decode(pre["data_to_sign"]))
    with TestClient(app) as thief, TestClient(app) as same_person_elsewhere:
        login_demo_person(thief, ctx, "dnie", demo_code)
        _problem(_post(thief, pre["token"], person, signature), 403,
                 "presign_binding_mismatch")
        login_demo_person(same_person_elsewhere, ctx, "citizen", demo_code)
        _problem(_post(same_person_elsewhere, pre["token"], person, signature), 403,
                 "presign_binding_mismatch")
    # Refusing them did not spend the token: its owner still completes it.
    res = _post(citizen, pre["token"], person, signature)
    assert res.status_code == 200 and res.content.startswith(b"%PDF")


def test_document_size_and_outstanding_pre_signs_are_limited(
        citizen: TestClient, ctx: Context, one_page_pdf: bytes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    person = ctx.pki.person("citizen")
    signer = ctx.three_phase
    monkeypatch.setattr(signer, "max_document_bytes", len(one_page_pdf) - 1)
    _problem(_pre_raw(citizen, one_page_pdf, _pem(person)), 413, "document_too_large")
    monkeypatch.setattr(signer, "max_document_bytes", len(one_page_pdf))
    monkeypatch.setattr(signer, "max_outstanding", 2)
    first = _pre(citizen, one_page_pdf, _pem(person))
    _pre(citizen, one_page_pdf, _pem(person))
    res = _pre_raw(citizen, one_page_pdf, _pem(person))
    _problem(res, 429, "too_many_presigns")
    assert 1 <= int(res.headers["retry-after"]) <= signer.ttl_seconds
    # Completing one frees its place.
    signature = _device_sign(person, base64.b64decode(first["data_to_sign"]))
    assert _post(citizen, first["token"], person, signature).status_code == 200
    _pre(citizen, one_page_pdf, _pem(person))
