"""Revocation, with the demo PKI's OCSP responder answering over real HTTP (``live``).

A signature by the revoked demo citizen made after the revocation is TOTAL_FAILED /
REVOKED; a signature timestamped before its certificate was revoked is not.
"""

from __future__ import annotations

import io
import time
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from bench.samples import make_pdf
from certs import revocation


def _person_signs(ctx: Any, name: str, *, timestamp: bool) -> bytes:
    material = ctx.pki.person(name)
    der = lambda c: asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))  # noqa: E731
    signer = signers.SimpleSigner(
        signing_cert=der(material.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            material.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([der(c) for c in material.chain]),
    )
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(
            field_name="Ciudadano", subfilter=fields.SigSeedSubFilter.PADES
        ),
        signer=signer,
        timestamper=ctx.sealer.timestamper() if timestamp else None,
    ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(make_pdf(1))), output=out)
    return out.getvalue()


def _validate(live: Any, data: bytes, code: str) -> dict[str, Any]:
    with live.client() as http:
        r = http.post(
            "/validation", files={"document": ("signed.pdf", data)}, data={"municipality": code}
        )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_signature_after_revocation_is_revoked(live: Any, ctx: Any, demo_code: str) -> None:
    signed = _person_signs(ctx, "revoked", timestamp=True)
    report = _validate(live, signed, demo_code)
    sig = report["signatures"][0]
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "REVOKED"), sig[
        "errors"
    ]
    assert sig["intact"] is True
    assert "certificate_revoked" in {e["code"] for e in sig["errors"]}


def test_signature_timestamped_before_revocation_is_not_revoked(
    live: Any, ctx: Any, demo_code: str
) -> None:
    signed = _person_signs(ctx, "citizen", timestamp=True)
    assert _validate(live, signed, demo_code)["indication"] == "TOTAL_PASSED"
    time.sleep(1.1)  # revocation times have one-second resolution
    cert: x509.Certificate = ctx.pki.person("citizen").certificate
    with ctx.transaction() as session:
        revocation.revoke(session, cert.serial_number, x509.ReasonFlags.key_compromise)
    report = _validate(live, signed, demo_code)
    sig = report["signatures"][0]
    assert sig["subindication"] not in ("REVOKED", "REVOKED_NO_POE"), sig["errors"]
    assert report["indication"] == "TOTAL_PASSED", sig["errors"]
    assert sig["best_signature_time"] == sig["timestamps"][0]["time"]
    # Without the timestamp's proof the same revocation cannot be placed after the signature.
    untimestamped = _person_signs(ctx, "citizen", timestamp=False)
    late = _validate(live, untimestamped, demo_code)
    assert (late["indication"], late["subindication"]) == ("TOTAL_FAILED", "REVOKED")
