from __future__ import annotations

from alembic import context

import api.models  # noqa: F401  (registers every package's tables on Base.metadata)
from infra.db import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:
    context.configure(url=context.config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
