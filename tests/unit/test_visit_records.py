"""The visit record's pure parts: the form's sections (every care-log category in exactly one),
Korean months, the fingerprint, and the monthly timer's schedule landing once a month on the
1st at 01:00 in Korea."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pytest

from functions.visit_records import MONTHLY_VISIT_RECORDS_SCHEDULE, run_monthly
from models.dates import KOREA
from models.vocabularies import CareLogCategory
from shared.visit_records.builder import Month, fingerprint
from shared.visit_records.sections import LAYOUTS, Layout, layout_for, section_of


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_every_care_log_category_has_exactly_one_section(layout: Layout) -> None:
    for category in CareLogCategory:
        holders = [s for s in layout.sections if category in s.categories]
        assert len(holders) == 1, category
        assert section_of(layout, category.value) is holders[0]
    labels = [s.label for s in layout.sections]
    assert labels == ["신체활동지원", "인지·정서지원", "가사 및 일상생활지원"]


def test_the_physical_section_holds_the_form_s_physical_care() -> None:
    physical = layout_for(date(2026, 11, 1)).sections[0]
    assert set(physical.categories) == {
        CareLogCategory.MEAL,
        CareLogCategory.MEDICATION,
        CareLogCategory.HYGIENE,
        CareLogCategory.EXERCISE,
        CareLogCategory.VITAL_CHECK,
    }


def test_a_month_before_every_layout_has_none() -> None:
    with pytest.raises(ValueError, match="no visit-record layout"):
        layout_for(date(1999, 12, 1))


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "", "x"])
def test_a_month_is_yyyy_mm(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse(text)


def test_a_month_is_korea_s() -> None:
    month = Month.parse("2026-12")
    assert month.start == datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert month.end == datetime(2026, 12, 31, 15, tzinfo=UTC)
    assert (month.first_day, month.last_day) == (date(2026, 12, 1), date(2026, 12, 31))
    assert month.previous().text == "2026-11"
    assert month.next().text == "2027-01"
    assert Month.parse("2028-02").last_day == date(2028, 2, 29)
    # 23:30 UTC on 30 November is already 1 December in Korea.
    assert Month.containing(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)).text == "2026-12"


def test_the_fingerprint_ignores_when_the_files_were_written() -> None:
    content = {"month": "2026-11", "visits": [{"visit_id": 1, "minutes": 60}]}
    stamped = {**content, "generated_at": "2026-12-01T01:00:00+09:00", "content_sha256": "x"}
    assert fingerprint(stamped) == fingerprint(content)
    changed = {**content, "visits": [{"visit_id": 1, "minutes": 61}]}
    assert fingerprint(changed) != fingerprint(content)


def _fires(year: int, month: int) -> list[datetime]:
    """The instants the schedule fires in a month (its seconds, minutes, hours and days)."""
    second, minute, hour, days, months, weekdays = MONTHLY_VISIT_RECORDS_SCHEDULE.split()
    assert (second, minute, hour, months, weekdays) == ("0", "0", "16", "*", "*")
    low, high = (int(d) for d in days.split("-"))
    last = calendar.monthrange(year, month)[1]
    return [datetime(year, month, d, 16, tzinfo=UTC) for d in range(low, min(high, last) + 1)]


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_the_timer_works_once_a_month_at_1am_on_the_1st_in_korea(year: int) -> None:
    for month in range(1, 13):
        firsts = [t for t in _fires(year, month) if t.astimezone(KOREA).day == 1]
        assert len(firsts) == 1, (year, month)
        korea = firsts[0].astimezone(KOREA)
        assert (korea.hour, korea.minute) == (1, 0)
        assert korea.date() == date(year, month, calendar.monthrange(year, month)[1]) + timedelta(1)


def test_on_another_day_the_timer_does_nothing() -> None:
    # 16:00 UTC on 29 November is 01:00 on 30 November in Korea: not the 1st, no database used.
    assert run_monthly(datetime(2026, 11, 29, 16, tzinfo=UTC)) is None
