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
from functools import lru_cache
from string import Formatter

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from infra.db import utcnow
from infra.errors import ElocalError, InvalidInput
from infra.tenancy import get_municipality
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


#: Placeholders a number template must contain, and the one it may add.
TEMPLATE_REQUIRED = ("year", "kind", "number")
TEMPLATE_OPTIONAL = ("office",)
#: Length of ``registry_entry.display_number``.
MAX_DISPLAY_NUMBER = 64


class InvalidNumberTemplate(InvalidInput):
    code = "registry_number_template_invalid"
    title = "The registry number template is not valid"


class BrokenNumberTemplate(ElocalError):
    """The stored template no longer formats: the database was changed behind eLocal.

    Refused rather than replaced by the default: a registration must never get a
    number in a form other than the one the municipality published.
    """

    code = "registry_number_template_broken"
    status = 500
    title = "The municipality's stored registry number template is not valid"


def _render(template: str, *, year: int, kind: str, number: int, office: str) -> str:
    return template.format(year=year, kind=kind, number=number, office=office)


@lru_cache(maxsize=64)
def check_template(template: str) -> str:
    """Validate a number template and return a sample number (raises ``InvalidNumberTemplate``).

    Every entry's display number must be unique within its office, so the year, the
    kind and the number must all show, and each must change the result.
    """
    try:
        fields = [name for _, name, _, _ in Formatter().parse(template) if name is not None]
        sample = _render(template, year=2026, kind="E", number=123, office="O00099901")
        variants = {
            _render(template, year=y, kind=k, number=n, office="O00099901")
            for y, k, n in ((2026, "E", 123), (2027, "E", 123), (2026, "S", 123),
                            (2026, "E", 124))
        }
        longest = _render(template, year=9999, kind="S", number=10**12 - 1,
                          office="X" * 16)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidNumberTemplate(f"the template does not format: {exc}",
                                    template=template) from None
    unknown = sorted(set(fields) - set(TEMPLATE_REQUIRED) - set(TEMPLATE_OPTIONAL))
    if unknown:
        raise InvalidNumberTemplate(f"unknown placeholders: {', '.join(unknown)}",
                                    template=template)
    missing = [name for name in TEMPLATE_REQUIRED if name not in fields]
    if missing:
        raise InvalidNumberTemplate(
            "the template must contain " + ", ".join(f"{{{m}}}" for m in missing),
            template=template)
    if len(variants) != 4:
        raise InvalidNumberTemplate("the template gives different entries the same number",
                                    template=template)
    if len(longest) > MAX_DISPLAY_NUMBER:
        raise InvalidNumberTemplate(
            f"numbers from this template can exceed {MAX_DISPLAY_NUMBER} characters",
            template=template)
    return sample


def display_number(template: str, *, year: int, kind: str, number: int, office: str) -> str:
    """The number as people see it, from the municipality's template."""
    try:
        check_template(template)
    except InvalidNumberTemplate as exc:
        raise BrokenNumberTemplate(f"the registry number template {template!r} is not valid: "
                                   f"{exc.detail}") from None
    return _render(template, year=year, kind=kind, number=number, office=office)


def set_template(session: Session, municipality_code: str, template: str) -> str:
    """Store a municipality's validated number template; returns a sample number."""
    sample = check_template(template)
    get_municipality(session, municipality_code).number_template = template
    return sample
