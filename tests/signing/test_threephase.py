"""Three-phase signing: the citizen's key signs on "their device" (here, the test)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from api.context import Context
from certs.keys import KeyMaterial
from signing.keys import to_asn1
from tests.signing.conftest import assert_pdfsig_valid


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


def _pre(http, pdf: bytes, cert_pem: str, level: str = "B-B") -> dict[str, str]:
    res = http.post("/signing/three-phase/pre", data={"certificate": cert_pem, "level": level},
                    files={"document": ("solicitud.pdf", pdf, "application/pdf")})
    assert res.status_code == 200, res.text
    return res.json()  # type: ignore[no-any-return]


def test_three_phase_b_t_signature_is_valid(live, ctx: Context, one_page_pdf: bytes,
                                            nss_db: Path, tmp_path: Path) -> None:
    citizen = ctx.pki.person("citizen")
    with live.client() as http:
        pre = _pre(http, one_page_pdf, _pem(citizen), "B-T")
        signature = _device_sign(citizen, base64.b64decode(pre["data_to_sign"]))
        res = http.post("/signing/three-phase/post", json={
            "token": pre["token"], "certificate": _pem(citizen),
            "signature": base64.b64encode(signature).decode()})
        assert res.status_code == 200, res.text
        # Single use: the same token cannot complete a second document.
        again = http.post("/signing/three-phase/post", json={
            "token": pre["token"], "certificate": _pem(citizen),
            "signature": base64.b64encode(signature).decode()})
        assert again.status_code == 410 and again.json()["code"] == "presign_expired"

    sig = PdfFileReader(io.BytesIO(res.content)).embedded_signatures[0]
    assert sig.signer_cert.dump() == to_asn1(citizen.certificate).dump()
    status = validate_pdf_signature(sig, signer_validation_context=ValidationContext(
        trust_roots=[to_asn1(ctx.pki.root)], allow_fetching=True))
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    path = tmp_path / "three-phase.pdf"
    path.write_bytes(res.content)
    assert_pdfsig_valid(path, nss_db)


def test_token_is_bound_to_the_certificate_and_signature_is_checked(
        client, ctx: Context, one_page_pdf: bytes) -> None:
    citizen, other = ctx.pki.person("citizen"), ctx.pki.person("dnie")
    pre = _pre(client, one_page_pdf, _pem(citizen))
    tbs = base64.b64decode(pre["data_to_sign"])
    # Someone else's certificate and signature cannot complete the citizen's document.
    res = client.post("/signing/three-phase/post", json={
        "token": pre["token"], "certificate": _pem(other),
        "signature": base64.b64encode(_device_sign(other, tbs)).decode()})
    assert res.status_code == 403 and res.json()["code"] == "presign_binding_mismatch"

    pre = _pre(client, one_page_pdf, _pem(citizen))
    wrong = _device_sign(citizen, b"something else entirely")
    res = client.post("/signing/three-phase/post", json={
        "token": pre["token"], "certificate": _pem(citizen),
        "signature": base64.b64encode(wrong).decode()})
    assert res.status_code == 422 and res.json()["code"] == "invalid_signature_value"

    res = client.post("/signing/three-phase/post", json={
        "token": "forged.token", "certificate": _pem(citizen), "signature": "AAAA"})
    assert res.status_code == 410
