"""Public, read-only view of each municipality's registry log (RFC 9162 + C2SP checkpoints).

Everything here is what an outside auditor needs (``elocal registry audit``): the
log key, checkpoints, leaves, proofs, and the leaves recomputed from the registry's
current rows. None of it carries personal data.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import Ctx, Db
from infra.tenancy import get_municipality
from registry import audit, log

router = APIRouter(prefix="/registry/{municipality}/log", tags=["registry log"])

Index = Annotated[int, Query(ge=0, le=2**53)]
Size = Annotated[int, Query(ge=1, le=2**53)]


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(x).decode() for x in items]


@router.get("/key")
def key(municipality: str, ctx: Ctx, db: Db) -> dict[str, Any]:
    get_municipality(db, municipality)
    verifier = ctx.registry_log.verifier(municipality)
    return {
        "origin": ctx.registry_log.origin(municipality),
        "verifier_key": str(verifier),
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(verifier.public).decode(),
        "fingerprint": verifier.fingerprint,
    }


@router.get("/checkpoint")
def checkpoint(municipality: str, db: Db) -> dict[str, Any]:
    get_municipality(db, municipality)
    return log.latest_checkpoint(db, municipality).public()


@router.get("/checkpoint.txt", response_class=PlainTextResponse)
def checkpoint_note(municipality: str, db: Db) -> str:
    """The latest checkpoint as a bare signed note, for generic tlog tooling."""
    get_municipality(db, municipality)
    return log.latest_checkpoint(db, municipality).note


@router.get("/checkpoints")
def checkpoints(
    municipality: str, db: Db,
    after: Annotated[int, Query(ge=-1, le=2**53)] = -1,
    limit: Annotated[int, Query(ge=1, le=log.MAX_CHECKPOINT_PAGE)] = log.MAX_CHECKPOINT_PAGE,
) -> dict[str, Any]:
    """Checkpoints with size greater than ``after``, smallest first, one page at a time."""
    get_municipality(db, municipality)
    items = log.checkpoints(db, municipality, after, limit)
    return {"size": log.tree_size(db, municipality),
            "checkpoints": [c.public() for c in items]}


@router.get("/leaves")
def leaves(
    municipality: str, db: Db, start: Index = 0,
    end: Annotated[int | None, Query(ge=0, le=2**53)] = None,
) -> dict[str, Any]:
    """Leaves ``start`` ≤ index < ``end`` (at most ``MAX_LEAF_PAGE``), as canonical JSON text."""
    get_municipality(db, municipality)
    stop = start + log.MAX_LEAF_PAGE if end is None else end
    rows = log.leaves(db, municipality, start, stop)
    return {"size": log.tree_size(db, municipality),
            "leaves": [{"index": r.leaf_index, "data": r.data} for r in rows]}


@router.get("/entries")
def entries(
    municipality: str, db: Db, start: Index = 0,
    end: Annotated[int | None, Query(ge=0, le=2**53)] = None,
) -> dict[str, Any]:
    """The leaves recomputed from the registry's current rows, for comparison with the log."""
    get_municipality(db, municipality)
    stop = start + log.MAX_LEAF_PAGE if end is None else end
    return {"leaves": audit.recomputed_leaves(db, municipality, start, stop)}


@router.get("/proof/inclusion")
def inclusion(municipality: str, db: Db, index: Index, size: Size) -> dict[str, Any]:
    get_municipality(db, municipality)
    proof = log.inclusion_proof(db, municipality, index, size)
    return {"index": index, "size": size, "hashes": _b64(proof)}


@router.get("/proofs/inclusion")
def inclusions(municipality: str, db: Db, size: Size, start: Index = 0,
               end: Annotated[int | None, Query(ge=0, le=2**53)] = None) -> dict[str, Any]:
    """Audit paths of a page of leaves (at most ``MAX_LEAF_PAGE``) against tree ``size``."""
    get_municipality(db, municipality)
    stop = start + log.MAX_LEAF_PAGE if end is None else end
    proofs = log.inclusion_proofs(db, municipality, start, stop, size)
    return {"size": size, "proofs": [{"index": i, "hashes": _b64(p)} for i, p in proofs]}


@router.get("/proofs/consistency")
def consistencies(municipality: str, db: Db, second: Size, start: Size = 1,
                  end: Annotated[int | None, Query(ge=1, le=2**53)] = None) -> dict[str, Any]:
    """Consistency proofs from every size in [start, end) (one page) to size ``second``."""
    get_municipality(db, municipality)
    stop = start + log.MAX_LEAF_PAGE if end is None else end
    proofs = log.consistency_proofs(db, municipality, start, stop, second)
    return {"second": second, "proofs": [{"first": m, "hashes": _b64(p)} for m, p in proofs]}


@router.get("/proof/consistency")
def consistency(municipality: str, db: Db, first: Size, second: Size) -> dict[str, Any]:
    get_municipality(db, municipality)
    proof = log.consistency_proof(db, municipality, first, second)
    return {"first": first, "second": second, "hashes": _b64(proof)}
