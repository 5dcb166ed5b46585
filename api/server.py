"""Run eLocal: HTTP on ``http_port`` and HTTPS with optional client certificates on ``https_port``.

Both listeners serve the same application object in one event loop, so that the
in-process state store is shared. With ``workers > 1`` uvicorn forks workers that
serve HTTP only; that mode needs Redis (the in-process store cannot be shared).

The HTTPS listener hands the client certificate of the TLS handshake to the
application through the ASGI TLS extension (``scope["extensions"]["tls"]``), which
uvicorn does not fill in: ``TLSExtensionMixin`` reads the peer certificate from the
connection's ``SSLObject`` once per connection and adds the extension to the scope
of every request on it. Nothing reads a client certificate from a header here.

What the TLS layer itself refuses: Python's ``ssl`` module has no verification
callback, so with ``CERT_OPTIONAL`` OpenSSL aborts the handshake for a client
certificate that does not chain to ``tls/client-ca.pem`` (unknown CA, bad
signature). Validity dates are *not* checked there (``X509_V_FLAG_NO_CHECK_TIME``):
an expired certificate reaches the application, which refuses it with ``expired``,
an error a person can act on. Revocation is only checked by the application.

uvicorn's own ``X-Forwarded-*`` handling is switched off: which proxies are trusted
is eLocal's ``trusted_proxies`` setting, and the client address the application
sees must be the real TCP peer for that check to mean anything.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.app import create_app
from api.context import Context

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional in uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

#: OpenSSL's X509_V_FLAG_NO_CHECK_TIME (not exported by Python's ssl module).
X509_V_FLAG_NO_CHECK_TIME = 0x200000
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}

ASGIApp = Callable[..., Any]


def tls_extension(
    ssl_object: ssl.SSLObject | ssl.SSLSocket | None, server_cert: str | None = None
) -> dict[str, Any] | None:
    """The ASGI TLS extension dict of one connection (None for plain TCP)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name: str | None = None
    if der:
        chain.append(ssl.DER_cert_to_PEM_cert(der))
        try:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError:
            name = None
    return {
        "server_cert": server_cert,
        "client_cert_chain": chain,
        "client_cert_name": name,
        # The handshake only completes for a certificate OpenSSL verified.
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class _WithTLSExtension:
    """Adds one connection's TLS extension to every ASGI scope on that connection."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket"):
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": self.tls}}
        await self.app(scope, receive, send)


class TLSExtensionMixin:
    """Mixin for uvicorn's HTTP protocols: fills ``scope["extensions"]["tls"]``."""

    server_cert_pem: str | None = None
    app: ASGIApp

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        tls = tls_extension(transport.get_extra_info("ssl_object"), self.server_cert_pem)
        if tls is not None:
            self.app = _WithTLSExtension(self.app, tls)


def tls_protocol_class(server_cert_pem: str | None) -> type[asyncio.Protocol]:
    """uvicorn's fastest available HTTP/1.1 protocol, with the TLS extension."""
    base: type = HttpToolsProtocol if HttpToolsProtocol is not None else H11Protocol
    return type(
        "TLSExtension" + base.__name__,
        (TLSExtensionMixin, base),
        {"server_cert_pem": server_cert_pem},
    )


def tls_paths(ctx: Context) -> tuple[Path, Path, Path] | None:
    """(certificate, key, client CA bundle) of the HTTPS listener, if the PKI has them."""
    tls = ctx.settings.pki_dir / "tls"
    cert, key, ca = tls / "server.pem", tls / "server.key.pem", tls / "client-ca.pem"
    return (cert, key, ca) if cert.exists() and key.exists() and ca.exists() else None


def _ssl_context(_: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME  # type: ignore[assignment]
    return context


def https_config(
    app: object, ctx: Context, *, port: int | None = None, log_level: str = "info"
) -> uvicorn.Config | None:
    paths = tls_paths(ctx)
    https_port = ctx.settings.https_port if port is None else port
    if paths is None or not https_port:
        return None
    cert, key, ca = paths
    server_pem = (
        x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.PEM).decode()
    )
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=ctx.settings.host,
        port=https_port,
        http=tls_protocol_class(server_pem),
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        ssl_ca_certs=str(ca),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
        ssl_context_factory=_ssl_context,
        proxy_headers=False,
        log_level=log_level,
    )


def http_config(
    app: object, ctx: Context, *, port: int | None = None, log_level: str = "info"
) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=ctx.settings.host,
        port=ctx.settings.http_port if port is None else port,
        proxy_headers=False,
        log_level=log_level,
    )


def run(ctx: Context) -> None:
    settings = ctx.settings
    if settings.workers > 1:
        if not settings.redis_url:
            raise SystemExit("elocal: error: several workers need ELOCAL_REDIS_URL")
        uvicorn.run(
            "api.asgi:app",
            host=settings.host,
            port=settings.http_port,
            workers=settings.workers,
            proxy_headers=False,
            log_level="info",
        )
        return
    app = create_app(ctx=ctx, migrate=False)
    configs = [http_config(app, ctx)]
    tls = https_config(app, ctx)
    if tls is not None:
        configs.append(tls)

    async def _serve_all() -> None:
        await asyncio.gather(*(uvicorn.Server(c).serve() for c in configs))

    asyncio.run(_serve_all())
