"""Challenge–response login and the validation path, through the HTTP API.

The throw-away ``TestPki`` has dead revocation URLs: hard-fail gives
``revocation_unavailable``; the other checks run on a soft-fail municipality.
"""

from __future__ import annotations

import base64
import secrets
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from api.context import Context
from identity.challenge import issue_challenge
from infra import tenancy
from tests.identity.conftest import (
    TestPki,
    challenge_login,
    code_of,
    name,
    set_policy_allow_list,
    set_soft_fail,
)


def test_unreachable_revocation_is_refused_unless_soft_fail(
    client: TestClient, ctx: Context, test_pki: TestPki, test_municipality: str
) -> None:
    leaf = test_pki.citizen()
    r = challenge_login(client, test_municipality, leaf.pem, leaf.key)
    assert r.status_code == 401 and code_of(r) == "revocation_unavailable"
    set_soft_fail(ctx, test_municipality)
    r = challenge_login(client, test_municipality, leaf.pem, leaf.key)
    assert r.status_code == 200, r.text
    assert r.json()["subject"] == "12345678Z" and r.json()["amr"] == ["x509", "pop"]


def test_session_cookie_me_and_logout(client: TestClient, test_pki: TestPki, soft: str) -> None:
    leaf = test_pki.citizen()
    r = challenge_login(client, soft, leaf.pem, leaf.key)
    cookie = r.headers["set-cookie"].lower()
    assert "elocal_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain-HTTP test server with an http:// public_url
    me = client.get("/me")
    assert me.status_code == 200
    body = me.json()
    assert (body["subject"], body["capacity"], body["loa"], body["municipality"]) == (
        "12345678Z",
        "citizen",
        "low",
        soft,
    )
    assert body["acr"] == "http://eidas.europa.eu/LoA/low"
    assert client.post("/logout").status_code == 204
    assert client.get("/me").status_code == 401


def test_logout_ends_every_session_of_that_person(
    ctx: Context, app: object, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    with TestClient(app) as laptop, TestClient(app) as phone:  # type: ignore[arg-type]
        assert challenge_login(laptop, soft, leaf.pem, leaf.key).status_code == 200
        assert challenge_login(phone, soft, leaf.pem, leaf.key).status_code == 200
        other = test_pki.citizen("99999999R")
        with TestClient(app) as someone_else:  # type: ignore[arg-type]
            assert challenge_login(someone_else, soft, other.pem, other.key).status_code == 200
            assert laptop.post("/logout").status_code == 204
            assert phone.get("/me").status_code == 401
            assert someone_else.get("/me").status_code == 200


def test_logout_ends_that_persons_sessions_in_every_municipality(
    ctx: Context, app: object, test_pki: TestPki, soft: str, second_code: str, tmp_path: Path
) -> None:
    other_town = second_code  # the second demo municipality, made to trust test_pki too
    with ctx.transaction() as s:
        muni = tenancy.get_municipality(s, other_town)
        muni.trust_store = [str(test_pki.write(tmp_path / "trust"))]
        muni.revocation_soft_fail = True
    leaf = test_pki.citizen()
    with TestClient(app) as here, TestClient(app) as there:  # type: ignore[arg-type]
        assert challenge_login(here, soft, leaf.pem, leaf.key).status_code == 200
        assert challenge_login(there, other_town, leaf.pem, leaf.key).status_code == 200
        assert there.get("/me").json()["municipality"] == other_town
        assert here.post("/logout").status_code == 204
        assert there.get("/me").status_code == 401
        assert challenge_login(there, other_town, leaf.pem, leaf.key).status_code == 200


def test_redirect_to_relative_next_only(client: TestClient, test_pki: TestPki, soft: str) -> None:
    leaf = test_pki.citizen()
    r = challenge_login(client, soft, leaf.pem, leaf.key, next_url="/oidc/authorize?x=1")
    assert r.status_code == 303 and r.headers["location"] == "/oidc/authorize?x=1"
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        r = challenge_login(client, soft, leaf.pem, leaf.key, next_url=evil)
        assert r.status_code == 422 and code_of(r) == "invalid_next"


def test_replayed_nonce_is_refused(client: TestClient, test_pki: TestPki, soft: str) -> None:
    leaf = test_pki.citizen()
    nonce = client.post("/login/challenge").json()["nonce"]
    assert challenge_login(client, soft, leaf.pem, leaf.key, nonce=nonce).status_code == 200
    r = challenge_login(client, soft, leaf.pem, leaf.key, nonce=nonce)
    assert r.status_code == 401 and code_of(r) == "invalid_challenge"


def test_nonce_is_used_up_by_a_failed_attempt(
    client: TestClient, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    nonce = client.post("/login/challenge").json()["nonce"]
    wrong = ec.generate_private_key(ec.SECP256R1())
    assert challenge_login(client, soft, leaf.pem, wrong, nonce=nonce).status_code == 401
    r = challenge_login(client, soft, leaf.pem, leaf.key, nonce=nonce)
    assert code_of(r) == "invalid_challenge"


def test_expired_nonce_is_refused(
    client: TestClient, ctx: Context, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    nonce = issue_challenge(ctx.state, ttl=1).nonce
    time.sleep(1.1)
    r = challenge_login(client, soft, leaf.pem, leaf.key, nonce=nonce)
    assert r.status_code == 401 and code_of(r) == "invalid_challenge"


def test_unknown_nonce_is_refused(client: TestClient, test_pki: TestPki, soft: str) -> None:
    leaf = test_pki.citizen()
    r = challenge_login(client, soft, leaf.pem, leaf.key, nonce=secrets.token_urlsafe(32))
    assert r.status_code == 401 and code_of(r) == "invalid_challenge"


def test_signature_by_another_key_is_refused(
    client: TestClient, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    r = challenge_login(client, soft, leaf.pem, ec.generate_private_key(ec.SECP256R1()))
    assert r.status_code == 401 and code_of(r) == "bad_signature"
    assert client.get("/me").status_code == 401


def test_rsa_key_and_raw_ecdsa_signatures(client: TestClient, test_pki: TestPki, soft: str) -> None:
    rsa_leaf = test_pki.citizen(key=rsa.generate_private_key(65537, 2048))
    assert challenge_login(client, soft, rsa_leaf.pem, rsa_leaf.key).status_code == 200
    weak = test_pki.citizen(key=rsa.generate_private_key(65537, 1024))  # noqa: S505 - on purpose
    r = challenge_login(client, soft, weak.pem, weak.key)
    assert r.status_code == 401 and code_of(r) == "bad_signature"
    r = challenge_login(client, soft, rsa_leaf.pem, rsa_leaf.key, algorithm="ES256")
    assert r.status_code == 401 and code_of(r) == "bad_signature"
    r = challenge_login(client, soft, rsa_leaf.pem, rsa_leaf.key, algorithm="HS256")
    assert r.status_code == 422 and code_of(r) == "unsupported_algorithm"


def test_untrusted_expired_not_yet_valid(client: TestClient, test_pki: TestPki, soft: str) -> None:
    cases = [
        (TestPki("Unknown").citizen(), "untrusted"),
        (test_pki.citizen(days_before=400, days_after=-1), "expired"),
        (test_pki.citizen(days_before=-1), "not_yet_valid"),
    ]
    for leaf, expected in cases:
        r = challenge_login(client, soft, leaf.pem, leaf.key)
        assert r.status_code == 401 and code_of(r) == expected, r.text


def test_untrusted_even_with_the_foreign_chain_supplied(client: TestClient, soft: str) -> None:
    other = TestPki("Foreign")
    leaf = other.citizen()
    r = challenge_login(client, soft, leaf.pem, leaf.key, chain=[other.issuing.pem, other.root.pem])
    assert code_of(r) == "untrusted"


def test_key_usage_and_eku(client: TestClient, test_pki: TestPki, soft: str) -> None:
    no_ds = test_pki.citizen(digital_signature=False)
    r = challenge_login(client, soft, no_ds.pem, no_ds.key)
    assert code_of(r) == "wrong_usage"
    server_only = test_pki.leaf(
        name((NameOID.SERIAL_NUMBER, "IDCES-12345678Z")), eku=[ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert code_of(challenge_login(client, soft, server_only.pem, server_only.key)) == "wrong_usage"
    no_eku = test_pki.leaf(name((NameOID.SERIAL_NUMBER, "12345678Z")))
    assert challenge_login(client, soft, no_eku.pem, no_eku.key).status_code == 200


def test_policy_allow_list(client: TestClient, ctx: Context, test_pki: TestPki, soft: str) -> None:
    set_policy_allow_list(ctx, soft, ["1.3.6.1.4.1.5734.3.10.1"])
    plain = test_pki.citizen()
    assert code_of(challenge_login(client, soft, plain.pem, plain.key)) == "policy_not_allowed"
    fnmt = test_pki.citizen(policies=["1.3.6.1.4.1.5734.3.10.1"])
    assert challenge_login(client, soft, fnmt.pem, fnmt.key).status_code == 200


def test_unknown_identity_format(client: TestClient, test_pki: TestPki, soft: str) -> None:
    leaf = test_pki.leaf(
        name((NameOID.COMMON_NAME, "nobody")), eku=[ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    r = challenge_login(client, soft, leaf.pem, leaf.key)
    assert r.status_code == 401 and code_of(r) == "unknown_identity_format"


def test_base64_der_certificate_and_unknown_municipality(
    client: TestClient, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    der = base64.b64encode(leaf.cert.public_bytes(Encoding.DER))
    assert challenge_login(client, soft, der, leaf.key).status_code == 200
    r = challenge_login(client, "L01280796", leaf.pem, leaf.key)
    assert r.status_code == 404


def test_failed_logins_are_throttled_per_address(
    client: TestClient, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    wrong = ec.generate_private_key(ec.SECP256R1())
    for _ in range(10):
        assert challenge_login(client, soft, leaf.pem, wrong).status_code == 401
    r = client.post("/login/challenge")
    assert r.status_code == 429 and code_of(r) == "too_many_failed_logins"
    assert int(r.headers["retry-after"]) > 0
    r = client.get(f"/login/certificate?municipality={soft}")
    assert r.status_code == 429


def test_challenges_are_rate_limited_per_address(client: TestClient) -> None:
    for _ in range(60):
        assert client.post("/login/challenge").status_code == 200
    r = client.post("/login/challenge")
    assert r.status_code == 429 and code_of(r) == "too_many_challenges"
    assert 0 < int(r.headers["retry-after"]) <= 60


@pytest.mark.parametrize("store", [[], ["/nonexistent/trust.pem"]])
def test_empty_or_broken_trust_store_trusts_nothing(
    client: TestClient, ctx: Context, test_pki: TestPki, soft: str, store: list[str]
) -> None:
    with ctx.transaction() as s:
        tenancy.get_municipality(s, soft).trust_store = store
    leaf = test_pki.citizen()
    r = challenge_login(client, soft, leaf.pem, leaf.key)
    assert r.status_code == 401 and code_of(r) == "untrusted"
