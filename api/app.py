"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.context import Context
from api.db import upgrade
from api.limits import RequestBodyLimit, default_limits
from api.routes import ROUTERS
from api.settings import Settings


def create_app(settings: Settings | None = None, *, ctx: Context | None = None,
               migrate: bool = True) -> FastAPI:
    ctx = ctx or Context(settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if migrate:
            upgrade(ctx.engine)
        yield

    app = FastAPI(
        title="eLocal",
        version="0.1.0",
        summary="Identity gateway, AdES signing and the electronic registry for municipalities.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    problems.install(app)
    # Uploads are capped as they stream, before any route spools them.
    app.add_middleware(RequestBodyLimit, limits=default_limits(ctx))
    for router in ROUTERS:
        app.include_router(router)
    return app
