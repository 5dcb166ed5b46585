"""HTTP routes, one module per domain; ``api.app`` mounts every router listed here."""

from fastapi import APIRouter

from api.routes import health, municipalities

ROUTERS: list[APIRouter] = [
    health.router,
    municipalities.router,
]
