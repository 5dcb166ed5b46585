"""Our cryptographic verdicts agree with tools nobody here wrote: xmlsec1 and pdfsig."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from signing.validation import validate
from tests.conftest import require_tool, shared_path
from tests.validation.conftest import SigningCa

XADES = [
    e
    for e in json.loads(shared_path("corpus", "signatures", "manifest.json").read_text())
    if e["format"] == "XAdES"
]


def _xmlsec1(path: Path) -> str | None:
    tool = require_tool("xmlsec1")
    res = subprocess.run(
        [
            tool,
            "--verify",
            "--insecure",
            "--id-attr:Id",
            "SignedProperties",
            "--enabled-reference-uris",
            "empty,same-doc",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = res.stdout + res.stderr
    found = re.search(r"^(OK|FAIL)\b", out, re.M)
    return found.group(1) if found else None


@pytest.mark.parametrize("entry", XADES, ids=[e["file"] for e in XADES])
def test_xades_core_agrees_with_xmlsec1(entry: dict[str, Any]) -> None:
    path = shared_path("corpus", "signatures", entry["file"])
    verdict = _xmlsec1(path)
    if verdict is None:
        pytest.skip(
            "xmlsec1 gives no verdict for this file (unsupported construct or refused input)"
        )
    report = validate(path.read_bytes(), offline=True)
    ours = bool(report.signatures) and all(s.intact for s in report.signatures)
    assert ours == (verdict == "OK"), (verdict, report.to_json()["signatures"])


def _pdfsig(path: Path) -> str:
    tool = require_tool("pdfsig")
    res = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30)
    return res.stdout + res.stderr


def test_sealed_pdf_agrees_with_pdfsig(
    test_ca: SigningCa, sealed_pdf: bytes, tmp_path: Path
) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(sealed_pdf)
    out = _pdfsig(good)
    assert "Signature is Valid" in out and "Total document signed" in out
    assert (
        validate(sealed_pdf, trust_roots=[test_ca.root], offline=True).indication == "TOTAL_PASSED"
    )

    m = re.search(rb"\((Resolucion 42/2026 p1)\)", sealed_pdf)
    assert m is not None
    forged_bytes = sealed_pdf[: m.start(1)] + b"Resolucion 99/2026 p1" + sealed_pdf[m.end(1) :]
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(forged_bytes)
    assert "Signature is Valid" not in _pdfsig(forged)
    report = validate(forged_bytes, trust_roots=[test_ca.root], offline=True)
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "HASH_FAILURE")
