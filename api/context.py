"""The composition root's object graph: one ``Context`` per process.

Everything expensive (engine, connection pools, parsed keys and certificates) is
built once here and shared by requests, CLI commands and tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.settings import Settings
from infra.blobs import BlobStore
from infra.db import make_engine, make_sessionmaker
from infra.db import transaction as _transaction
from infra.state import StateStore, open_state_store


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.resolved_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def state(self) -> StateStore:
        return open_state_store(self.settings.redis_url, prefix=self.settings.redis_prefix)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blob_dir)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with _transaction(self.sessions) as session:
            yield session

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
