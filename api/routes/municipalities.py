from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Db
from infra.tenancy import get_municipality, list_municipalities

router = APIRouter(prefix="/municipalities", tags=["municipalities"])


@router.get("")
def list_all(db: Db) -> list[dict[str, Any]]:
    return [m.public() for m in list_municipalities(db)]


@router.get("/{code}")
def get_one(code: str, db: Db) -> dict[str, Any]:
    return get_municipality(db, code).public()
