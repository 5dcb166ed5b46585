"""Schema migrations (Alembic), applied on start and by ``elocal db upgrade``.

Each package owns a branch of migrations (``infra``, ``certs``, ``identity``…) so
that packages evolve their tables independently; ``upgrade heads`` applies all.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def is_current(engine: Engine) -> bool:
    """True when every migration of every branch is applied.

    Alembic keeps only the newest applied revisions in its version table; a branch
    that others depend on is applied when it is an ancestor of those.
    """
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        applied = MigrationContext.configure(conn).get_current_heads()
    done = {rev.revision for rev in script.iterate_revisions(applied, "base")}
    return set(script.get_heads()) <= done
