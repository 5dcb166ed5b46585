"""HTTP routes, one module per domain; ``api.app`` mounts every router listed here."""

from fastapi import APIRouter

from api.routes import (
    health,
    identity,
    municipalities,
    oidc,
    pki,
    registry,
    registry_log,
    signing,
    validation,
)

ROUTERS: list[APIRouter] = [
    health.router,
    identity.router,
    municipalities.router,
    pki.router,
    oidc.router,
    registry.router,
    registry_log.router,
    signing.router,
    validation.router,
]
