"""Tables owned by the signing package."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from infra.db import Base, transaction


class TsaSerial(Base):
    """The TSA's serial-number counter.

    RFC 3161 requires serial numbers to be unique per TSA; eLocal also makes them
    monotonic. An atomic ``UPDATE … RETURNING`` on one row gives that across
    worker processes and restarts, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "tsa_serial"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


DEFAULT_COUNTER = "tsa"


def next_serial(sessions: sessionmaker[Session], name: str = DEFAULT_COUNTER) -> int:
    with transaction(sessions) as session:
        stmt = (update(TsaSerial).where(TsaSerial.name == name)
                .values(value=TsaSerial.value + 1).returning(TsaSerial.value))
        value = session.execute(stmt).scalar_one_or_none()
        if value is None:
            session.add(TsaSerial(name=name, value=1))
            session.flush()
            return 1
        return int(value)
