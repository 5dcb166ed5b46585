"""Official time of the registry (Ley 39/2015 art. 31).

The registry accepts submissions at any hour, but one made on a non-working day
(a Saturday, a Sunday or a holiday in the municipality's calendar) counts from
00:00 Europe/Madrid of the next working day. Both instants are kept: the real one
orders entries and the effective one starts the legal time limits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from infra.tenancy import get_municipality, is_working_day, non_working_days

MADRID = ZoneInfo("Europe/Madrid")

#: Longest plausible run of non-working days looked up at once (Easter + weekends).
_LOOKAHEAD = timedelta(days=21)


def madrid_date(instant: datetime) -> date:
    return instant.astimezone(MADRID).date()


def effective_instant(session: Session, municipality_code: str, real: datetime) -> datetime:
    """The art. 31 effective instant of a submission made at ``real`` (aware)."""
    day = madrid_date(real)
    holidays = non_working_days(session, municipality_code, day, day + _LOOKAHEAD)
    if is_working_day(day, holidays):
        return real.astimezone(UTC)
    nxt = day + timedelta(days=1)
    horizon = day + _LOOKAHEAD
    while not is_working_day(nxt, holidays):
        nxt += timedelta(days=1)
        if nxt > horizon:
            holidays |= non_working_days(session, municipality_code, nxt, nxt + _LOOKAHEAD)
            horizon = nxt + _LOOKAHEAD
    return datetime.combine(nxt, time(0), MADRID).astimezone(UTC)


def official_time(session: Session, municipality_code: str, now: datetime) -> dict[str, Any]:
    """What the sede shows: the official clock and whether today counts as working."""
    get_municipality(session, municipality_code)
    effective = effective_instant(session, municipality_code, now)
    local = now.astimezone(MADRID)
    return {
        "municipality": municipality_code,
        "time_zone": "Europe/Madrid",
        "now": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "local": local.isoformat(),
        "working_day": effective == now.astimezone(UTC),
        "submissions_count_from": effective.astimezone(MADRID).isoformat(),
    }
