"""Gapless registry numbering, per office, Madrid year and kind.

The number comes from a counter row incremented with ``INSERT … ON CONFLICT DO
UPDATE … RETURNING`` inside the registration transaction: the row stays locked
until commit, so concurrent registrations at one office queue behind each other,
and a registration that aborts (an error, a crash, SIGKILL) rolls the increment
back with everything else. Nothing in process memory decides a number, and there
are no sequences (a rolled-back sequence value is a gap).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from infra.db import utcnow
from infra.tenancy import DEFAULT_NUMBER_TEMPLATE
from registry.models import RegistryCounter

log = logging.getLogger("elocal.registry")

Clock = Callable[[], datetime]


def next_number(session: Session, municipality_code: str, office_code: str, year: int,
                kind: str) -> int:
    """Take the next number; the counter row stays locked until the transaction ends."""
    table: Table = RegistryCounter.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = ins.values(
        municipality_code=municipality_code, office_code=office_code, year=year, kind=kind,
        last=1,
    ).on_conflict_do_update(
        index_elements=["office_code", "year", "kind"],
        set_={"last": table.c.last + 1},
    ).returning(table.c.last)
    return int(session.execute(stmt).scalar_one())


def current_instant(session: Session, clock: Clock | None = None) -> datetime:
    """The registry instant, read *after* the number so that number order is time order.

    PostgreSQL's ``clock_timestamp()`` (not ``now()``, which is the transaction
    start) gives one clock for every worker. SQLite serialises writers with
    ``BEGIN IMMEDIATE``, so the service clock read here is ordered too.
    """
    if clock is not None:
        return clock()
    if session.get_bind().dialect.name == "postgresql":
        value = session.execute(text("SELECT clock_timestamp()")).scalar_one()
        return value  # type: ignore[no-any-return]
    return utcnow()


def display_number(template: str, *, year: int, kind: str, number: int, office: str) -> str:
    """The number as people see it, from the municipality's template."""
    try:
        return template.format(year=year, kind=kind, number=number, office=office)
    except (KeyError, IndexError, ValueError):
        log.error("bad registry number template %r; using the default", template)
        return DEFAULT_NUMBER_TEMPLATE.format(year=year, kind=kind, number=number, office=office)
