"""Malformed certificates, headers and signatures always get a clean 4xx, never a 500."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.context import Context
from identity.challenge import signed_message
from tests.identity.conftest import Issued, TestPki, set_soft_fail, sign

FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def unthrottled(ctx: Context) -> Iterator[None]:
    """Fuzzing must reach the parsers, not stop at the (separately tested) throttle."""
    throttle = ctx.certificate_login.throttle
    limits = throttle.limit, throttle.challenge_limit
    throttle.limit = throttle.challenge_limit = 10**9
    yield
    throttle.limit, throttle.challenge_limit = limits


@pytest.fixture
def proxy_client(app: Any, unthrottled: None) -> Iterator[TestClient]:
    with TestClient(app, client=("127.0.0.2", 40000)) as c:
        yield c


@pytest.fixture
def fuzz_client(client: TestClient, unthrottled: None) -> TestClient:
    return client


def _mutate(data: bytes, positions: list[int], values: list[int]) -> bytes:
    out = bytearray(data)
    for p, v in zip(positions, values, strict=False):
        out[p % len(out)] = v
    return bytes(out)


def _assert_clean_4xx(r: Any) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")


def _assert_refused_or_unchanged(r: Any, mutated: bytes, original: Issued) -> None:
    """A mutated certificate is refused cleanly, or was accepted for what it still is.

    Acceptance is only right when the mutation left the signed part and the
    signature intact (a byte eLocal never reads) and the person logged in is the
    original one; anything else would be a forgery passing validation.
    """
    if r.status_code != 200:
        _assert_clean_4xx(r)
        return
    parsed = x509.load_der_x509_certificate(mutated)
    assert parsed.tbs_certificate_bytes == original.cert.tbs_certificate_bytes
    assert parsed.signature == original.cert.signature
    assert r.json()["subject"] == "12345678Z" and r.json()["capacity"] == "citizen"


def _signature(ctx: Context, municipality: str, nonce: str, leaf: Issued) -> str:
    message = signed_message(ctx.settings.public_url, municipality, nonce)
    return base64.b64encode(sign(leaf.key, message)).decode()


@FUZZ
@given(
    positions=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    values=st.lists(st.integers(0, 255), min_size=1, max_size=6),
)
def test_mutated_certificate_in_challenge_response(
    fuzz_client: TestClient,
    ctx: Context,
    test_pki: TestPki,
    test_municipality: str,
    positions: list[int],
    values: list[int],
) -> None:
    set_soft_fail(ctx, test_municipality)
    leaf = test_pki.citizen()
    der = _mutate(leaf.cert.public_bytes(Encoding.DER), positions, values)
    nonce = fuzz_client.post("/login/challenge").json()["nonce"]
    r = fuzz_client.post(
        "/login/challenge/response",
        json={
            "municipality": test_municipality,
            "nonce": nonce,
            "signature": _signature(ctx, test_municipality, nonce, leaf),
            "certificate": base64.b64encode(der).decode(),
        },
    )
    _assert_refused_or_unchanged(r, der, leaf)


@FUZZ
@given(
    certificate=st.text(max_size=300),
    signature=st.text(max_size=200),
    nonce=st.text(max_size=140),
    algorithm=st.one_of(st.none(), st.text(max_size=16)),
    chain=st.lists(st.text(max_size=100), max_size=3),
)
def test_arbitrary_challenge_response_fields(
    fuzz_client: TestClient,
    demo_code: str,
    certificate: str,
    signature: str,
    nonce: str,
    algorithm: str | None,
    chain: list[str],
) -> None:
    r = fuzz_client.post(
        "/login/challenge/response",
        json={
            "municipality": demo_code,
            "nonce": nonce,
            "signature": signature,
            "certificate": certificate,
            "chain": chain,
            "algorithm": algorithm,
        },
    )
    _assert_clean_4xx(r)


@FUZZ
@given(signature=st.binary(max_size=600))
def test_arbitrary_signature_bytes(
    fuzz_client: TestClient, test_pki: TestPki, test_municipality: str, signature: bytes
) -> None:
    leaf = test_pki.citizen()
    nonce = fuzz_client.post("/login/challenge").json()["nonce"]
    r = fuzz_client.post(
        "/login/challenge/response",
        json={
            "municipality": test_municipality,
            "nonce": nonce,
            "signature": base64.b64encode(signature).decode(),
            "certificate": leaf.pem.decode(),
        },
    )
    _assert_clean_4xx(r)


@FUZZ
@given(
    header=st.one_of(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=400),
        st.binary(max_size=300).map(
            lambda b: quote(
                b"-----BEGIN CERTIFICATE-----\n"
                + base64.encodebytes(b)
                + b"-----END CERTIFICATE-----\n",
                safe="",
            )
        ),
    )
)
def test_arbitrary_proxy_header_from_trusted_proxy(
    proxy_client: TestClient, demo_code: str, header: str
) -> None:
    r = proxy_client.get(
        f"/login/certificate?municipality={demo_code}", headers={"X-SSL-Client-Cert": header}
    )
    _assert_clean_4xx(r)


@FUZZ
@given(
    positions=st.lists(st.integers(0, 10_000), min_size=1, max_size=4),
    values=st.lists(st.integers(0, 255), min_size=1, max_size=4),
)
def test_mutated_certificate_in_proxy_header(
    proxy_client: TestClient,
    ctx: Context,
    test_pki: TestPki,
    test_municipality: str,
    positions: list[int],
    values: list[int],
) -> None:
    set_soft_fail(ctx, test_municipality)
    leaf = test_pki.citizen()
    der = _mutate(leaf.cert.public_bytes(Encoding.DER), positions, values)
    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    )
    r = proxy_client.get(
        f"/login/certificate?municipality={test_municipality}",
        headers={"X-SSL-Client-Cert": quote(pem, safe="")},
    )
    _assert_refused_or_unchanged(r, der, leaf)


def test_unknown_public_key_algorithm(
    fuzz_client: TestClient, ctx: Context, test_pki: TestPki, test_municipality: str
) -> None:
    leaf = test_pki.citizen()
    ec_public_key = bytes.fromhex("06072a8648ce3d0201")
    der = leaf.cert.public_bytes(Encoding.DER)
    assert ec_public_key in der
    der = der.replace(ec_public_key, bytes.fromhex("06072a8648ce3d0209"))
    nonce = fuzz_client.post("/login/challenge").json()["nonce"]
    r = fuzz_client.post(
        "/login/challenge/response",
        json={
            "municipality": test_municipality,
            "nonce": nonce,
            "signature": _signature(ctx, test_municipality, nonce, leaf),
            "certificate": base64.b64encode(der).decode(),
        },
    )
    _assert_clean_4xx(r)
    assert r.json()["code"] == "bad_signature"
