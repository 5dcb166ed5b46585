"""End to end with a relying party nobody here wrote: npm's openid-client 6.x under Node.

The test plays the citizen's browser against the live server (certificate login by
challenge–response with the demo citizen's key, then consent); openid-client does
discovery, builds the authorization request (PKCE S256, state, nonce), redeems the
code, validates the ID token, calls userinfo, refreshes and builds the logout URL.
Only ``allowInsecureRequests`` is relaxed, because the test server is plain HTTP.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from api.context import Context
from tests.conftest import IN_CI, LiveServer, require_tool
from tests.oidc.conftest import (
    LOGGED_OUT,
    Rp,
    add_client,
    callback_params,
    redeem,
    tls_client,
)

RP_DIR = Path(__file__).resolve().parents[1] / "rp"
CALLBACK = "http://127.0.0.1:9/callback"   # never contacted: the test reads the redirect


def node_modules() -> None:
    require_tool("node")
    if (RP_DIR / "node_modules" / "openid-client").is_dir():
        return
    if IN_CI:
        pytest.fail("tests/rp/node_modules is missing: .ci/run runs `npm ci` there")
    npm = require_tool("npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=RP_DIR,
                   check=True, timeout=300)


def certificate_login(http: httpx.Client, ctx: Context, municipality: str, person: str,
                      next_url: str | None = None) -> httpx.Response:
    """Challenge–response login with a demo person's certificate and private key."""
    people = ctx.settings.pki_dir / "people"
    key = serialization.load_pem_private_key((people / f"{person}.key.pem").read_bytes(),
                                             password=None)
    challenge = http.post("/login/challenge", params={"municipality": municipality})
    assert challenge.status_code == 200, challenge.text
    message = challenge.json()["message"].encode()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return http.post("/login/challenge/response", json={
        "municipality": municipality,
        "nonce": challenge.json()["nonce"],
        "signature": base64.b64encode(signature).decode(),
        "certificate": (people / f"{person}.pem").read_text(),
        "next": next_url,
    })


class RelyingParty:
    def __init__(self, config: dict[str, Any]) -> None:
        node = require_tool("node")
        self.proc = subprocess.Popen(
            [node, str(RP_DIR / "rp.mjs"), json.dumps(config)], cwd=RP_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"})

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise AssertionError(f"relying party ended: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        message = json.loads(line)
        assert "error" not in message, message["error"]
        return dict(message)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.mark.slow
def test_openid_client_runs_the_whole_flow(live: LiveServer, ctx: Context,
                                           demo_code: str) -> None:
    node_modules()
    rp = add_client(ctx, demo_code, client_id="sports-booking", name="Reserva de pistas",
                    redirect_uris=[CALLBACK], post_logout_redirect_uris=[LOGGED_OUT],
                    scopes=["openid", "profile", "nif", "offline_access"])
    # The relying party refreshes, so it asks for offline_access (OIDC Core §11).
    driver = RelyingParty({
        "issuer": live.url, "client_id": rp.client_id, "client_secret": rp.secret,
        "redirect_uri": CALLBACK, "post_logout_redirect_uri": LOGGED_OUT,
        "scope": "openid profile nif offline_access",
    })
    try:
        authorize_url = driver.read()["authorize"]
        assert authorize_url.startswith(f"{live.url}/oidc/authorize?")
        with live.client(follow_redirects=False) as browser:
            to_login = browser.get(authorize_url)
            assert to_login.status_code == 303, to_login.text
            login_query = parse_qs(urlsplit(to_login.headers["location"]).query)
            assert login_query["municipality"] == [demo_code]
            logged_in = certificate_login(browser, ctx, demo_code, "citizen",
                                          next_url=login_query["next"][0])
            assert logged_in.status_code == 303, logged_in.text
            consent_page = browser.get(logged_in.headers["location"])
            assert consent_page.status_code == 200 and "Reserva de pistas" in consent_page.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', consent_page.text)
            action = re.search(r'<form method="post" action="([^"]+)"', consent_page.text)
            assert csrf and action
            back = browser.post(action.group(1), data={"csrf": csrf.group(1),
                                                       "decision": "allow"})
            assert back.status_code == 303 and back.headers["location"].startswith(CALLBACK)
            driver.send(back.headers["location"])
            result = driver.read()["result"]

            me = browser.get("/me").json()
            claims = result["id_token_claims"]
            assert result["issuer"] == live.url
            assert claims["iss"] == live.url and claims["aud"] == rp.client_id
            assert claims["sub"] != me["subject"]           # pairwise, not the NIF
            assert claims["nif"] == me["identity"]["nif"] == me["subject"]
            assert claims["acr"] == me["acr"] and claims["amr"] == me["amr"]
            assert claims["auth_time"] == me["auth_time"]
            assert result["userinfo"]["sub"] == claims["sub"]
            assert result["userinfo"]["given_name"] == me["identity"]["given_name"]
            assert result["refreshed_claims"]["sub"] == claims["sub"]
            assert result["userinfo_after_refresh"] == result["userinfo"]
            assert result["rotated"] is True

            bye = browser.get(result["logout"])
            assert bye.status_code == 303, bye.text
            assert bye.headers["location"] == f"{LOGGED_OUT}?state=bye"
            assert browser.get("/me").status_code == 401
    finally:
        driver.close()


def test_a_browser_logs_in_with_its_tls_certificate_during_authorization(
        live: LiveServer, https_listener: str, ctx: Context, rp: Rp, demo_code: str) -> None:
    """With a plain-HTTP public_url, authorization sends the browser to eLocal's HTTPS
    listener, which asks for the certificate in the TLS handshake, then brings it back."""
    with tls_client(ctx, "citizen", follow_redirects=False) as browser:
        r = browser.get(f"{live.url}/oidc/authorize", params={
            "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
            "response_type": "code", "scope": "openid nif", "state": "tls", "nonce": "n"})
        login = r.headers["location"]
        assert r.status_code == 303 and login.startswith(f"{https_listener}/login/certificate?")
        logged_in = browser.get(login)
        assert logged_in.status_code == 303, logged_in.text
        consent = browser.get(urljoin(login, logged_in.headers["location"]))
        assert consent.status_code == 200, consent.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', consent.text)
        action = re.search(r'<form method="post" action="([^"]+)"', consent.text)
        assert csrf and action
        back = browser.post(urljoin(login, action.group(1)),
                            data={"csrf": csrf.group(1), "decision": "allow"})
        got = callback_params(back, rp.redirect_uri)
        assert got["state"] == "tls" and got["iss"] == live.url
    with live.client() as http:
        tokens = redeem(http, rp, got["code"])
        assert tokens.status_code == 200, tokens.text
        info = http.get("/oidc/userinfo", headers={
            "Authorization": f"Bearer {tokens.json()['access_token']}"}).json()
    citizen = x509.load_pem_x509_certificate(
        (ctx.settings.pki_dir / "people" / "citizen.pem").read_bytes())
    assert info["nif"] in citizen.subject.rfc4514_string()


def test_a_representative_is_released_with_the_entity_they_act_for(
        live: LiveServer, ctx: Context, rp: Rp, demo_code: str) -> None:
    with live.client(follow_redirects=False) as browser:
        logged_in = certificate_login(browser, ctx, demo_code, "representative")
        assert logged_in.status_code == 200, logged_in.text
        me = logged_in.json()
        r = browser.get("/oidc/authorize", params={
            "client_id": rp.client_id, "redirect_uri": rp.redirect_uri, "response_type": "code",
            "scope": "openid profile representation", "state": "r"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', r.text)
        action = re.search(r'<form method="post" action="([^"]+)"', r.text)
        assert csrf and action, r.text
        assert "entidad a la que representa" in r.text
        got = callback_params(browser.post(action.group(1), data={
            "csrf": csrf.group(1), "decision": "allow"}), rp.redirect_uri)
        tokens = redeem(browser, rp, got["code"]).json()
        info = browser.get("/oidc/userinfo", headers={
            "Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["capacity"] == "representative"
    assert info["representation"] == {"cif": me["identity"]["entity_cif"],
                                      "name": me["identity"]["entity_name"],
                                      "capacity": "representative"}
    assert "nif" not in info
