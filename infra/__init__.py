"""Shared infrastructure: relational storage, the state store, the blob store and tenancy."""

from infra.blobs import BlobNotFound, BlobStore, BlobTooLarge
from infra.db import Base, UTCDateTime, make_engine, make_sessionmaker, transaction, utcnow
from infra.errors import (
    Conflict,
    ElocalError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthenticated,
)
from infra.state import (
    MemoryStateStore,
    RedisStateStore,
    StateStore,
    StateStoreError,
    open_state_store,
)
from infra.tenancy import (
    Municipality,
    NonWorkingDay,
    Office,
    Unit,
    UnknownMunicipality,
    add_municipality,
    get_municipality,
    list_municipalities,
)

__all__ = [
    "Base",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "Conflict",
    "ElocalError",
    "Forbidden",
    "InvalidInput",
    "MemoryStateStore",
    "Municipality",
    "NonWorkingDay",
    "NotFound",
    "Office",
    "PayloadTooLarge",
    "RedisStateStore",
    "ServiceUnavailable",
    "StateStore",
    "StateStoreError",
    "UTCDateTime",
    "Unauthenticated",
    "Unit",
    "UnknownMunicipality",
    "add_municipality",
    "get_municipality",
    "list_municipalities",
    "make_engine",
    "make_sessionmaker",
    "open_state_store",
    "transaction",
    "utcnow",
]
