"""The signed login text names the server and the town hall, and clients build it themselves.

A phishing server can relay a real eLocal nonce to its victim; the victim's client
then signs a text naming the phishing origin, which eLocal refuses. A hostile server
can also hand the client any "message"; the client must not sign it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from api.context import Context
from identity.challenge import signed_message
from identity.client import LoginRefused, challenge_login
from tests.identity.conftest import TestPki, code_of, sign
from tests.identity.conftest import challenge_login as http_login

HOSTILE_TEXT = "I, the undersigned, transfer 10000 EUR to the bearer"


def test_the_signed_text_names_origin_municipality_and_nonce(
    client: TestClient, ctx: Context, test_pki: TestPki, soft: str
) -> None:
    ch = client.post("/login/challenge", params={"municipality": soft}).json()
    origin = ctx.settings.public_url
    assert ch["origin"] == origin
    assert ch["message"] == f"elocal-login-v1:{origin}:{soft}:{ch['nonce']}"
    leaf = test_pki.citizen()
    r = http_login(client, soft, leaf.pem, leaf.key, nonce=ch["nonce"])
    assert r.status_code == 200, r.text


def test_signature_for_another_origin_is_refused(
    client: TestClient, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    r = http_login(client, soft, leaf.pem, leaf.key, origin="https://sede-phishing.example")
    assert r.status_code == 401 and code_of(r) == "bad_signature"
    assert client.get("/me").status_code == 401


def test_signature_for_another_municipality_is_refused(
    client: TestClient, test_pki: TestPki, soft: str, demo_code: str
) -> None:
    leaf = test_pki.citizen()
    r = http_login(client, soft, leaf.pem, leaf.key, signed_municipality=demo_code)
    assert r.status_code == 401 and code_of(r) == "bad_signature"


def test_the_old_unbound_text_is_refused(
    client: TestClient, test_pki: TestPki, soft: str
) -> None:
    leaf = test_pki.citizen()
    nonce = client.post("/login/challenge").json()["nonce"]
    r = client.post(
        "/login/challenge/response",
        json={
            "municipality": soft,
            "nonce": nonce,
            "signature": base64.b64encode(
                sign(leaf.key, f"elocal-login-v1:{nonce}".encode())
            ).decode(),
            "certificate": leaf.pem.decode(),
        },
    )
    assert r.status_code == 401 and code_of(r) == "bad_signature"


class HostileServer:
    """Answers the challenge with its own ``message`` (and nonce) and records the response."""

    def __init__(self, nonce: str, message: str) -> None:
        self.nonce, self.message = nonce, message
        self.responses: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login/challenge":
            return httpx.Response(
                200,
                json={"nonce": self.nonce, "expires_in": 120, "message": self.message,
                      "algorithms": ["ES256"]},
            )
        self.responses.append(json.loads(request.content))
        return httpx.Response(200, json={"subject": "x"})


def _login_against(
    server: HostileServer, test_pki: TestPki
) -> tuple[LoginRefused | None, ec.EllipticCurvePublicKey]:
    """Run ``elocal login``'s client against ``server``: (refusal or None, public key)."""
    leaf = test_pki.citizen()
    assert isinstance(leaf.key, ec.EllipticCurvePrivateKey)
    with httpx.Client(base_url="https://sede-phishing.example",
                      transport=httpx.MockTransport(server)) as http:
        try:
            challenge_login(http, "L01289974", leaf.cert, leaf.key)
        except LoginRefused as exc:
            return exc, leaf.key.public_key()
    return None, leaf.key.public_key()


def test_client_signs_its_own_bound_text_not_the_servers_message(test_pki: TestPki) -> None:
    nonce = "A" * 43
    server = HostileServer(nonce, HOSTILE_TEXT)
    refused, public_key = _login_against(server, test_pki)
    assert refused is None and len(server.responses) == 1
    signature = base64.b64decode(server.responses[0]["signature"])
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, HOSTILE_TEXT.encode(), ec.ECDSA(hashes.SHA256()))
    bound = signed_message("https://sede-phishing.example", "L01289974", nonce)
    public_key.verify(signature, bound, ec.ECDSA(hashes.SHA256()))  # names the phishing origin


@pytest.mark.parametrize(
    "nonce",
    [HOSTILE_TEXT, "abc", "A" * 129, "A" * 40 + ":x", "A" * 40 + "\n", "Ａ" * 43, None, 12345],
)
def test_client_refuses_to_sign_a_nonce_eLocal_never_issues(
    test_pki: TestPki, nonce: Any
) -> None:
    server = HostileServer(nonce, HOSTILE_TEXT)
    refused, _ = _login_against(server, test_pki)
    assert isinstance(refused, LoginRefused) and refused.code == "invalid_challenge"
    assert server.responses == []  # nothing was signed or sent

