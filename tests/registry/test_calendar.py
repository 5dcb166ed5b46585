"""Official time (Ley 39/2015 art. 31): effective instants on non-working days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.context import Context
from tests.registry.conftest import entry_body, submit

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture
def clock(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Pin the registry's service clock to a Madrid wall-clock time."""

    def set_time(local: datetime) -> None:
        at = local.replace(tzinfo=MADRID).astimezone(UTC)
        monkeypatch.setattr(ctx.registry, "clock", lambda: at)

    return set_time


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_new_year_eve_and_new_year_day(
    clock: Callable[[datetime], None], citizen: httpx.Client, demo_code: str
) -> None:
    # 23:59 on Thursday 31 December 2026 (22:59 UTC) is a working day in Madrid.
    clock(datetime(2026, 12, 31, 23, 59))
    e = submit(citizen, demo_code).json()
    assert e["number"] == "2026/E/000001"
    assert e["registered_at"] == "2026-12-31T22:59:00.000000Z"
    assert e["effective_at"] == e["registered_at"]
    # One minute later it is 1 January 2027 in Madrid (still 2026 in UTC): a new
    # year's numbering starts, and the holiday plus the weekend push the effective
    # instant to Monday 4 January, 00:00 Madrid.
    clock(datetime(2027, 1, 1, 0, 0, 30))
    e = submit(citizen, demo_code).json()
    assert e["number"] == "2027/E/000001"
    assert e["registered_at"] == "2026-12-31T23:00:30.000000Z"
    assert _utc(e["effective_at"]).astimezone(MADRID) == datetime(2027, 1, 4, tzinfo=MADRID)


def test_local_holiday_counts_from_next_working_day(
    clock: Callable[[datetime], None], login: Callable[..., httpx.Client], citizen: httpx.Client,
    demo_code: str, second_code: str,
) -> None:
    from tests.registry.conftest import principal

    # 15 May 2026 (a Friday) is San Isidro in Villademo only.
    clock(datetime(2026, 5, 15, 10, 30))
    here = submit(citizen, demo_code).json()
    assert _utc(here["effective_at"]).astimezone(MADRID) == datetime(2026, 5, 18, tzinfo=MADRID)
    assert _utc(here["registered_at"]).astimezone(MADRID) == datetime(2026, 5, 15, 10, 30,
                                                                     tzinfo=MADRID)
    neighbour = login(principal(second_code))
    there = submit(neighbour, second_code, entry_body(destination_unit="LA0099801")).json()
    assert there["effective_at"] == there["registered_at"]
    # The receipt states both instants.
    pdf_text = citizen.get(here["receipt"]["xml"]).text
    assert here["registered_at"] in pdf_text and here["effective_at"] in pdf_text


def test_official_time_endpoint(
    clock: Callable[[datetime], None], live: object, demo_code: str, second_code: str
) -> None:
    clock(datetime(2026, 9, 8, 12, 0))  # Fiestas patronales in Villademo
    with httpx.Client(base_url=live.url) as c:  # type: ignore[attr-defined]
        t = c.get(f"/registry/{demo_code}/time").json()
        assert t["working_day"] is False and t["time_zone"] == "Europe/Madrid"
        assert t["submissions_count_from"] == "2026-09-09T00:00:00+02:00"
        assert t["now"] == "2026-09-08T10:00:00Z"
        assert c.get(f"/registry/{second_code}/time").json()["working_day"] is True
        assert c.get("/registry/L01999999/time").status_code in (404, 422)
