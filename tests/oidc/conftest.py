"""Fixtures for the OpenID provider: registered clients, sessions and a browser that
walks authorize → consent → redirect.

Most tests open the login session straight through ``SessionStore`` (certificate
login has its own tests); the end-to-end relying-party test logs in for real.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.context import Context
from tests.conftest import LiveServer
from tests.logins import (  # noqa: F401  (re-exported for the OIDC tests)
    CALLBACK,
    LOGGED_OUT,
    Browser,
    Rp,
    add_client,
    callback_params,
    code_for,
    make_principal,
    pkce,
    redeem,
)


@pytest.fixture(autouse=True)
def fresh_keys(ctx: Context) -> None:
    """Each test starts from the snapshot's signing keys, not a previous test's cache."""
    ctx.oidc.keys.invalidate()


#: Every person-facing scope, ``nif`` included (it is never granted by default).
ALL_PERSON_SCOPES = ["openid", "profile", "email", "nif", "representation", "offline_access"]


@pytest.fixture
def rp(ctx: Context, demo_code: str) -> Rp:
    """A confidential client (client_secret_basic) of the first demo municipality."""
    return add_client(ctx, demo_code, client_id="tax-portal", name="Portal tributario",
                      scopes=ALL_PERSON_SCOPES)


@pytest.fixture(scope="session")
def https_listener(session_ctx: Context, live_server: LiveServer) -> Iterator[str]:
    """eLocal's HTTPS listener (client certificates optional) on ``settings.https_port``,
    where plain-HTTP deployments send browsers to log in with a certificate."""
    from api.app import create_app
    from api.server import https_config

    config = https_config(create_app(ctx=session_ctx, migrate=False), session_ctx,
                          log_level="warning")
    assert config is not None, "the demo PKI has no TLS server certificate"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTPS listener did not start")
        time.sleep(0.02)
    yield f"https://127.0.0.1:{session_ctx.settings.https_port}"
    server.should_exit = True
    thread.join(timeout=10)


def tls_client(ctx: Context, person: str | None = None, *,
               cert: tuple[Path, Path] | None = None, **kw: Any) -> httpx.Client:
    """An httpx client trusting the demo root, presenting a demo person's certificate or
    ``cert`` (certificate chain PEM, key PEM)."""
    context = ssl.create_default_context(cafile=str(ctx.settings.pki_dir / "root.pem"))
    if person is not None:
        people = ctx.settings.pki_dir / "people"
        cert = (people / f"{person}.pem", people / f"{person}.key.pem")
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.Client(verify=context, timeout=30, **kw)


@pytest.fixture
def browser(client: TestClient, ctx: Context) -> Browser:
    return Browser(client, ctx)
