"""Municipalities, their offices, units and non-working-day calendars.

One deployment serves many town halls. Every tenant-owned row in every package
carries ``municipality_code`` (the municipality's DIR3 code), and every query that
reads tenant data filters on it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from infra import dir3
from infra.db import Base, UTCDateTime, utcnow
from infra.errors import Conflict, InvalidInput, NotFound

DEFAULT_NUMBER_TEMPLATE = "{year}/{kind}/{number:06d}"


class UnknownMunicipality(NotFound):
    code = "unknown_municipality"
    title = "Unknown municipality"


class InvalidDir3(InvalidInput):
    code = "invalid_dir3_code"
    title = "Malformed DIR3 code"


class Municipality(Base):
    __tablename__ = "municipality"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The town hall's tax identifier (CIF, ``P…`` for local entities); named in its seal.
    cif: Mapped[str | None] = mapped_column(String(9), default=None)
    #: How the electronic-seal key is loaded: ``pem:<key>``, ``pkcs12:<file>`` or ``pkcs11:<uri>``.
    seal_key: Mapped[str | None] = mapped_column(String(1000), default=None)
    seal_cert: Mapped[str | None] = mapped_column(String(1000), default=None)
    #: PEM files or folders whose certificates are this municipality's trust anchors.
    trust_store: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Explicit opt-in: accept logins when no revocation source answers.
    revocation_soft_fail: Mapped[bool] = mapped_column(Boolean, default=False)
    #: RFC 3161 TSA used for B-T and above; None means eLocal's own TSA.
    tsa_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    number_template: Mapped[str] = mapped_column(String(100), default=DEFAULT_NUMBER_TEMPLATE)
    #: Optional certificate-policy OID allow-list for logins (empty: any policy).
    policy_allow_list: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    offices: Mapped[list[Office]] = relationship(
        back_populates="municipality", order_by="Office.code", lazy="selectin"
    )
    units: Mapped[list[Unit]] = relationship(order_by="Unit.code", lazy="selectin")

    def public(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "offices": [{"code": o.code, "name": o.name} for o in self.offices],
            "units": [{"code": u.code, "name": u.name} for u in self.units],
        }


class Office(Base):
    """A registry office (DIR3 ``O…``): numbering runs per office."""

    __tablename__ = "office"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    municipality: Mapped[Municipality] = relationship(back_populates="offices")


class Unit(Base):
    """An administrative unit that entries can be addressed to."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("municipality_code", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    code: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(200))


class NonWorkingDay(Base):
    """A national, regional or local holiday in a municipality's calendar."""

    __tablename__ = "non_working_day"
    __table_args__ = (UniqueConstraint("municipality_code", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    day: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(10))  # national | regional | local
    name: Mapped[str] = mapped_column(String(200), default="")


def _checked(check: Any, code: str) -> str:
    try:
        return str(check(code))
    except dir3.InvalidDir3Code as exc:
        raise InvalidDir3(str(exc), field=exc.kind, value=code) from exc


def add_municipality(session: Session, code: str, name: str, **fields: Any) -> Municipality:
    code = _checked(dir3.check_municipality, code.strip().upper())
    if not name.strip():
        raise InvalidInput("a municipality needs a name", field="name")
    if session.get(Municipality, code) is not None:
        raise Conflict(f"municipality {code} already exists", code_value=code)
    muni = Municipality(code=code, name=name.strip(), **fields)
    session.add(muni)
    session.flush()
    return muni


def get_municipality(session: Session, code: str) -> Municipality:
    muni = session.get(Municipality, code)
    if muni is None:
        _checked(dir3.check_municipality, code)
        raise UnknownMunicipality(f"no municipality with DIR3 code {code!r}", value=code)
    return muni


def list_municipalities(session: Session) -> list[Municipality]:
    return list(session.scalars(select(Municipality).order_by(Municipality.code)))


def add_office(session: Session, municipality_code: str, code: str, name: str) -> Office:
    muni = get_municipality(session, municipality_code)
    code = _checked(dir3.check_office, code.strip().upper())
    office = Office(code=code, municipality_code=muni.code, name=name)
    session.add(office)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"office {code} already exists") from exc
    return office


def add_unit(session: Session, municipality_code: str, code: str, name: str) -> Unit:
    muni = get_municipality(session, municipality_code)
    code = _checked(dir3.check_unit, code.strip().upper())
    unit = Unit(municipality_code=muni.code, code=code, name=name)
    session.add(unit)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"unit {code} already exists in {muni.code}") from exc
    return unit


def add_non_working_day(
    session: Session, municipality_code: str, day: date, scope: str, name: str = ""
) -> NonWorkingDay:
    if scope not in ("national", "regional", "local"):
        raise InvalidInput("scope must be national, regional or local", field="scope")
    get_municipality(session, municipality_code)
    nwd = NonWorkingDay(municipality_code=municipality_code, day=day, scope=scope, name=name)
    session.add(nwd)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{day.isoformat()} is already in the calendar") from exc
    return nwd


def non_working_days(session: Session, municipality_code: str, start: date, end: date) -> set[date]:
    rows = session.scalars(
        select(NonWorkingDay.day).where(
            NonWorkingDay.municipality_code == municipality_code,
            NonWorkingDay.day >= start,
            NonWorkingDay.day <= end,
        )
    )
    return set(rows)


def is_working_day(day: date, holidays: set[date]) -> bool:
    """Ley 39/2015 art. 30.2: Saturdays, Sundays and holidays are non-working days."""
    return day.weekday() < 5 and day not in holidays


def next_working_day(day: date, holidays: set[date]) -> date:
    day += timedelta(days=1)
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day
