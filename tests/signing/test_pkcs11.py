"""Sealing with a key generated inside a SoftHSM2 token (the key never leaves it)."""

from __future__ import annotations

import io
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from api.context import Context
from infra.tenancy import get_municipality
from signing import TokenPrivateKey
from signing.keys import to_asn1
from tests.conftest import require_tool
from tests.signing.conftest import assert_pdfsig_valid
from tests.signing.test_xades import xmlsec_verify

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so",
                     "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
PIN = "4321"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    util = require_tool("softhsm2-util")
    module = next((m for m in MODULE_CANDIDATES if os.path.exists(m)), None)
    if module is None:
        pytest.skip("libsofthsm2.so not found")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run([util, "--init-token", "--free", "--label", "elocal-seals", "--pin", PIN,
                    "--so-pin", "87654321"], check=True, capture_output=True)

    import pkcs11
    from pkcs11 import Attribute, KeyType

    lib = pkcs11.lib(module)
    with lib.get_token(token_label="elocal-seals").open(rw=True, user_pin=PIN) as session:
        pub, priv = session.generate_keypair(
            KeyType.RSA, 2048, label="villademo-seal", id=b"\x01", store=True,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                              Attribute.SIGN: True})
        modulus = int.from_bytes(pub[Attribute.MODULUS], "big")
        exponent = int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big")
        assert priv[Attribute.EXTRACTABLE] is False and priv[Attribute.SENSITIVE] is True
    return {"module": module, "modulus": str(modulus), "exponent": str(exponent)}


def _issue(ctx: Context, public: rsa.RSAPublicKey, path: Path) -> None:
    """A seal certificate for the token's key, from the demo issuing CA."""
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ayuntamiento de Villademo"),
            x509.NameAttribute(NameOID.COMMON_NAME, "SELLO HSM - AYUNTAMIENTO DE VILLADEMO")]))
        .issuer_name(ctx.pki.issuing.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ctx.pki.issuing.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(ctx.pki.issuing_key, hashes.SHA256())
    )
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM)
                   for c in (cert, ctx.pki.issuing, ctx.pki.root))
    path.write_bytes(pem)


def test_seal_with_a_key_inside_softhsm(ctx: Context, demo_code: str, token: dict[str, str],
                                        one_page_pdf: bytes, small_xml: bytes, nss_db: Path,
                                        tmp_path: Path) -> None:
    public = rsa.RSAPublicNumbers(int(token["exponent"]), int(token["modulus"])).public_key()
    cert_path = tmp_path / "hsm-seal.pem"
    _issue(ctx, public, cert_path)
    with ctx.transaction() as s:
        muni = get_municipality(s, demo_code)
        muni.seal_key = (f"pkcs11:token=elocal-seals;object=villademo-seal"
                         f"?module-path={token['module']}&pin-value={PIN}")
        muni.seal_cert = str(cert_path)

    seal = ctx.sealer.key(demo_code)
    assert isinstance(seal.key, TokenPrivateKey)
    assert seal.certificate.public_key() == public

    sealed = ctx.sealer.seal_pdf(demo_code, one_page_pdf, "B-B")
    assert sealed is not None
    sig = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0]
    assert sig.signer_cert.dump() == to_asn1(seal.certificate).dump()
    status = validate_pdf_signature(sig, signer_validation_context=ValidationContext(
        trust_roots=[to_asn1(ctx.pki.root)]))
    assert status.intact and status.valid and status.trusted
    pdf_path = tmp_path / "hsm.pdf"
    pdf_path.write_bytes(sealed)
    assert_pdfsig_valid(pdf_path, nss_db)

    signed_xml = ctx.sealer.seal_xml(demo_code, small_xml, "B-B")
    xml_path = tmp_path / "hsm.xml"
    xml_path.write_bytes(signed_xml)
    res = xmlsec_verify(xml_path, ctx)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_wrong_pin_is_a_clean_error(ctx: Context, demo_code: str, token: dict[str, str],
                                      registrar, one_page_pdf: bytes) -> None:
    with ctx.transaction() as s:
        muni = get_municipality(s, demo_code)
        muni.seal_key = (f"pkcs11:token=elocal-seals;object=villademo-seal"
                         f"?module-path={token['module']}&pin-value=0000")
        muni.seal_cert = str(ctx.pki.seal_paths(demo_code)[1])
    res = registrar.post("/signing/seal", data={"municipality": demo_code},
                         files={"document": ("a.pdf", one_page_pdf)})
    assert res.status_code == 503
    assert res.json()["code"] == "token_unavailable"
