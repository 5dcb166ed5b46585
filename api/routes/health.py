from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.db import is_current
from api.deps import Ctx
from api.problems import problem
from infra.db import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process is serving requests."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ctx: Ctx) -> JSONResponse:
    """Readiness: the database answers and is migrated, and the state store answers."""
    checks: dict[str, str] = {}
    try:
        ping(ctx.engine)
        checks["database"] = "ok" if is_current(ctx.engine) else "not migrated"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        ctx.state.ping()
        checks["state"] = "ok"
    except Exception as exc:
        checks["state"] = f"unavailable: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return problem(503, "not_ready", "Service not ready", None, checks=checks)
