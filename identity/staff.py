"""Staff roles: which public employees may act as what in a municipality.

A public-employee certificate proves that its holder works for *some* administration;
it grants nothing by itself. A role (``registrar``, ``admin``) comes only from the
municipality's own staff list, keyed by the employee's DNI/NIE.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from certs.identifiers import InvalidIdentifier, check_nif
from infra.db import Base, UTCDateTime, utcnow
from infra.errors import InvalidInput, NotFound
from infra.tenancy import get_municipality

__all__ = ["ROLES", "StaffGrant", "grant", "list_grants", "revoke", "roles_for"]

ROLES = ("registrar", "admin")


class StaffGrant(Base):
    __tablename__ = "staff_grant"
    __table_args__ = (UniqueConstraint("municipality_code", "dni", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    dni: Mapped[str] = mapped_column(String(9))
    role: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnknownRole(InvalidInput):
    code = "unknown_role"
    title = "Unknown staff role"


class InvalidDni(InvalidInput):
    code = "invalid_nif"
    title = "Invalid DNI/NIE"


def _checked(dni: str, role: str) -> tuple[str, str]:
    if role not in ROLES:
        raise UnknownRole(f"role must be one of {', '.join(ROLES)}", value=role)
    try:
        return check_nif(dni), role
    except InvalidIdentifier as exc:
        raise InvalidDni(str(exc), field="dni") from exc


def grant(session: Session, municipality_code: str, dni: str, role: str) -> StaffGrant:
    """Grant ``role`` to the employee ``dni``; granting an existing role changes nothing."""
    dni, role = _checked(dni, role)
    muni = get_municipality(session, municipality_code)
    existing = session.scalar(
        select(StaffGrant).where(
            StaffGrant.municipality_code == muni.code,
            StaffGrant.dni == dni,
            StaffGrant.role == role,
        )
    )
    if existing is not None:
        return existing
    row = StaffGrant(municipality_code=muni.code, dni=dni, role=role)
    session.add(row)
    session.flush()
    return row


def revoke(session: Session, municipality_code: str, dni: str, role: str) -> str:
    """Withdraw ``role`` and return the normalised DNI/NIE (the sessions' subject).

    Roles are copied into a session at login, so the caller must also end that
    person's open sessions (``SessionStore.close_all``) once this is committed.
    """
    dni, role = _checked(dni, role)
    row = session.scalar(
        select(StaffGrant).where(
            StaffGrant.municipality_code == municipality_code,
            StaffGrant.dni == dni,
            StaffGrant.role == role,
        )
    )
    if row is None:
        raise NotFound(f"{dni} does not have the role {role} in {municipality_code}")
    session.delete(row)
    session.flush()
    return dni


def list_grants(session: Session, municipality_code: str) -> list[StaffGrant]:
    get_municipality(session, municipality_code)
    return list(
        session.scalars(
            select(StaffGrant)
            .where(StaffGrant.municipality_code == municipality_code)
            .order_by(StaffGrant.dni, StaffGrant.role)
        )
    )


def roles_for(session: Session, municipality_code: str, dni: str) -> tuple[str, ...]:
    return tuple(
        session.scalars(
            select(StaffGrant.role)
            .where(StaffGrant.municipality_code == municipality_code, StaffGrant.dni == dni)
            .order_by(StaffGrant.role)
        )
    )
