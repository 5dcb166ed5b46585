"""Fixtures for validation tests: a small CA of our own and documents it signs.

Attack tests need sealed documents whose every byte they control, so the PDFs and
XML here are signed with pyHanko and signxml directly by a throw-away CA built with
``cryptography`` (no revocation pointers, so offline validation can pass).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.validation import PolicyStore
from tests.conftest import shared_path


@dataclass(frozen=True)
class SigningCa:
    root: x509.Certificate
    signer_cert: x509.Certificate
    signer_key: ec.EllipticCurvePrivateKey
    root_pem: Path

    def pdf_signer(self) -> signers.SimpleSigner:
        der_key = self.signer_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return signers.SimpleSigner(
            signing_cert=asn1_x509.Certificate.load(
                self.signer_cert.public_bytes(serialization.Encoding.DER)
            ),
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
            cert_registry=SimpleCertificateStore.from_certs(
                [asn1_x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))]
            ),
        )


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "eLocal validation tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> SigningCa:
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("Validation Test Root"))
        .issuer_name(_name("Validation Test Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Validation Test Signer"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("validation-ca")
    root_pem = folder / "root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return SigningCa(root, leaf, key, root_pem)


def _pdf(pages: int = 1, text: str = "Resolucion 42/2026", with_text_field: bool = False) -> bytes:
    """A small PDF with real text content (and optionally an empty text field)."""
    w = PdfFileWriter()
    font = w.add_object(
        generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Font"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
                generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
            }
        )
    )
    for n in range(pages):
        content = generic.StreamObject(
            stream_data=f"BT /F1 18 Tf 72 720 Td ({text} p{n + 1}) Tj ET".encode()
        )
        page = generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Page"),
                generic.pdf_name("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                generic.pdf_name("/Resources"): generic.DictionaryObject(
                    {
                        generic.pdf_name("/Font"): generic.DictionaryObject(
                            {generic.pdf_name("/F1"): font}
                        )
                    }
                ),
                generic.pdf_name("/Contents"): w.add_object(content),
            }
        )
        w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    data = out.getvalue()
    if with_text_field:
        iw = IncrementalPdfFileWriter(io.BytesIO(data))
        from pyhanko.pdf_utils.content import RawContent  # noqa: F401 - keeps pyhanko's content API loaded

        page_ref = iw.root["/Pages"]["/Kids"][0]
        field = generic.DictionaryObject(
            {
                generic.pdf_name("/FT"): generic.pdf_name("/Tx"),
                generic.pdf_name("/T"): generic.TextStringObject("amount"),
                generic.pdf_name("/V"): generic.TextStringObject("100 EUR"),
                generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Widget"),
                generic.pdf_name("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (72, 600, 272, 620)]
                ),
                generic.pdf_name("/P"): page_ref,
            }
        )
        field_ref = iw.add_object(field)
        page = page_ref.get_object()
        page[generic.pdf_name("/Annots")] = generic.ArrayObject([field_ref])
        iw.update_container(page)
        iw.root[generic.pdf_name("/AcroForm")] = generic.DictionaryObject(
            {generic.pdf_name("/Fields"): generic.ArrayObject([field_ref])}
        )
        iw.update_root()
        out = io.BytesIO()
        iw.write(out)
        data = out.getvalue()
    return data


def sign_pdf(
    ca: SigningCa,
    data: bytes,
    field_name: str = "Signature1",
    *,
    certify: bool = False,
    existing_field: bool = False,
) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, subfilter=fields.SigSeedSubFilter.PADES, certify=certify
    )
    out = io.BytesIO()
    signers.PdfSigner(
        meta,
        signer=ca.pdf_signer(),
        new_field_spec=None if existing_field else fields.SigFieldSpec(field_name),
    ).sign_pdf(w, output=out)
    return out.getvalue()


@pytest.fixture(scope="session")
def plain_pdf() -> bytes:
    return _pdf(pages=2)


@pytest.fixture(scope="session")
def sealed_pdf(test_ca: SigningCa, plain_pdf: bytes) -> bytes:
    return sign_pdf(test_ca, plain_pdf)


@pytest.fixture(scope="session")
def form_pdf() -> bytes:
    return _pdf(pages=1, with_text_field=True)


@pytest.fixture(scope="module")
def read_only_client(session_ctx: Any) -> Iterator[TestClient]:
    """A client for tests that only validate: validation writes nothing, so the
    per-test database restore (slow on PostgreSQL) is not needed."""
    from api.app import create_app

    with TestClient(create_app(ctx=session_ctx, migrate=False)) as c:
        yield c


@pytest.fixture(scope="session")
def policy_store() -> PolicyStore:
    return PolicyStore(
        [
            shared_path("corpus", "policies"),
            shared_path("corpus", "signatures", "xades", "policies"),
        ]
    )


def validation_poster(client: Any, ctx: Any, municipality: str,
                      *trusted: Path) -> Callable[..., dict[str, Any]]:
    """POST documents to /validation, offline, as ``municipality`` with ``trusted`` added to
    its trust store; the report comes back as JSON."""
    from infra import tenancy

    with ctx.transaction() as session:
        muni = session.get(tenancy.Municipality, municipality)
        muni.trust_store = [*muni.trust_store, *map(str, trusted)]

    def post(data: bytes, **fields: str) -> dict[str, Any]:
        r = client.post(
            "/validation",
            files={"document": ("document.pdf", data)},
            data={"municipality": municipality, "offline": "true", **fields},
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    return post
