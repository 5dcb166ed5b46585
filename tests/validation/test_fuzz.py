"""Hostile input through ``POST /validation``: bounded time, never a 500, never a false pass.

Hypothesis mutates our own sealed PDF and signed XML. A mutated byte inside the
signed range of the PDF can never yield TOTAL_PASSED; whatever is fed, the answer
is a 200 report (or a 4xx problem) within the time limit.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod
from signxml.xades import XAdESSigner

from tests.validation.conftest import SigningCa

#: Per-request ceiling (generous for a loaded CI machine); corpus files take well under 1 s.
LIMIT_SECONDS = 10.0
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _post(client: Any, data: bytes) -> Any:
    """POST the document; a call still running after the limit fails the test at once
    (a watchdog, so that a hang fails the run instead of stalling it)."""
    answer: list[Any] = []
    call = threading.Thread(target=lambda: answer.append(client.post(
        "/validation", files={"document": ("doc", data)}, data={"offline": "true"})),
        daemon=True)
    start = time.monotonic()
    call.start()
    call.join(LIMIT_SECONDS)
    assert not call.is_alive(), f"validation still running after {LIMIT_SECONDS:.0f}s"
    assert answer, f"the request failed after {time.monotonic() - start:.1f}s"
    r = answer[0]
    assert r.status_code < 500, r.text
    return r


@pytest.fixture(scope="module")
def signed_xml(test_ca: SigningCa) -> bytes:
    signer = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256
    )
    doc = etree.fromstring(b"<Acta><Punto Id='p1'>Aprobado</Punto></Acta>")
    return etree.tostring(signer.sign(doc, key=test_ca.signer_key, cert=[test_ca.signer_cert]))  # type: ignore[no-any-return]


def _gap(pdf: bytes) -> tuple[int, int]:
    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)", pdf)
    assert m is not None
    return int(m.group(1)), int(m.group(2))


@FUZZ
@given(data=st.data())
def test_mutated_pdf(read_only_client: Any, sealed_pdf: bytes, data: Any) -> None:
    a, b = _gap(sealed_pdf)
    pos = data.draw(st.integers(0, len(sealed_pdf) - 1))
    value = data.draw(st.integers(0, 255))
    length = data.draw(st.integers(1, 8))
    mutated = sealed_pdf[:pos] + bytes([value]) * length + sealed_pdf[pos + length :]
    r = _post(read_only_client, mutated)
    if mutated == sealed_pdf or r.status_code != 200:
        return
    touched_signed_bytes = pos < a or pos + length > b
    if touched_signed_bytes:
        assert r.json()["indication"] != "TOTAL_PASSED"


@FUZZ
@given(cut=st.integers(0, 10_000), junk=st.binary(max_size=300))
def test_truncated_and_spliced_pdf(
    read_only_client: Any, sealed_pdf: bytes, cut: int, junk: bytes
) -> None:
    mutated = sealed_pdf[: cut % len(sealed_pdf)] + junk
    r = _post(read_only_client, mutated)
    if r.status_code == 200:
        assert r.json()["indication"] != "TOTAL_PASSED"


@FUZZ
@given(data=st.data())
def test_mutated_xml(read_only_client: Any, signed_xml: bytes, data: Any) -> None:
    pos = data.draw(st.integers(0, len(signed_xml) - 1))
    insert = data.draw(
        st.sampled_from(
            [
                b"<",
                b">",
                b"&",
                b'"',
                b"x",
                b"<!DOCTYPE a [<!ENTITY b 'c'>]>",
                b"<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'/>",
                b"\x00",
                b"\xff\xfe",
                b" Id='p1'",
            ]
        )
    )
    mutated = signed_xml[:pos] + insert + signed_xml[pos:]
    r = _post(read_only_client, mutated)
    if r.status_code == 200 and r.json()["indication"] == "TOTAL_PASSED":
        # A pass is only possible if the data outside the signature is exactly what was signed.
        assert _without_signatures(mutated) == _without_signatures(signed_xml)


def _without_signatures(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    for sig in root.findall(".//{http://www.w3.org/2000/09/xmldsig#}Signature"):
        sig.getparent().remove(sig)
    return etree.tostring(root, method="c14n")  # type: ignore[no-any-return]


def test_nested_xml_bomb_is_refused_quickly(read_only_client: Any) -> None:
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    r = _post(read_only_client, deep)
    assert r.status_code == 200
    assert r.json()["indication"] == "TOTAL_FAILED"
