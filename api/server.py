"""Run eLocal: HTTP on ``http_port`` and HTTPS with optional client certificates on ``https_port``.

Both listeners serve the same application object in one event loop, so that the
in-process state store is shared. With ``workers > 1`` uvicorn forks workers that
serve HTTP only; that mode needs Redis (the in-process store cannot be shared).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import uvicorn

from api.app import create_app
from api.context import Context


def tls_paths(ctx: Context) -> tuple[Path, Path, Path] | None:
    """(certificate, key, client CA bundle) of the HTTPS listener, if the PKI has them."""
    tls = ctx.settings.pki_dir / "tls"
    cert, key, ca = tls / "server.pem", tls / "server.key.pem", tls / "client-ca.pem"
    return (cert, key, ca) if cert.exists() and key.exists() and ca.exists() else None


def https_config(app: object, ctx: Context) -> uvicorn.Config | None:
    paths = tls_paths(ctx)
    if paths is None or not ctx.settings.https_port:
        return None
    cert, key, ca = paths
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=ctx.settings.host,
        port=ctx.settings.https_port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        ssl_ca_certs=str(ca),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
        log_level="info",
    )


def run(ctx: Context) -> None:
    settings = ctx.settings
    if settings.workers > 1:
        if not settings.redis_url:
            raise SystemExit("elocal: error: several workers need ELOCAL_REDIS_URL")
        uvicorn.run("api.asgi:app", host=settings.host, port=settings.http_port,
                    workers=settings.workers, log_level="info")
        return
    app = create_app(ctx=ctx, migrate=False)
    configs = [uvicorn.Config(app, host=settings.host, port=settings.http_port, log_level="info")]
    tls = https_config(app, ctx)
    if tls is not None:
        configs.append(tls)

    async def _serve_all() -> None:
        await asyncio.gather(*(uvicorn.Server(c).serve() for c in configs))

    asyncio.run(_serve_all())
