"""The visit record's pure parts: the form's sections (every care-log category in exactly one),
Korean months, the fingerprint, and the monthly timer's schedule working on the
1st and 2nd in Korea."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

import pytest

from functions.visit_records import (
    MONTHLY_VISIT_RECORDS_SCHEDULE,
    RUN_BUDGET_SECONDS,
    RUN_ON_DAYS,
    run_monthly,
)
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


def test_the_timer_fires_hourly_and_works_on_the_1st_and_2nd_in_korea() -> None:
    assert MONTHLY_VISIT_RECORDS_SCHEDULE == "0 0 * * * *"
    assert RUN_ON_DAYS == (1, 2)
    # Its first working run: 15:00 UTC on the last day of a month is 00:00 on the 1st in Korea.
    for year, month in ((2026, 2), (2026, 11), (2028, 2)):
        last = calendar.monthrange(year, month)[1]
        first_run = datetime(year, month, last, 15, tzinfo=UTC).astimezone(KOREA)
        assert (first_run.day, first_run.hour) == (1, 0)
    assert RUN_BUDGET_SECONDS < 30 * 60  # host.json functionTimeout


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 30, 14, 59, tzinfo=UTC),  # 23:59 on 30 November in Korea
        datetime(2026, 12, 2, 15, 0, tzinfo=UTC),  # 00:00 on 3 December in Korea
        datetime(2026, 12, 15, 3, 0, tzinfo=UTC),
    ],
)
def test_on_other_days_the_timer_does_nothing(now: datetime) -> None:
    assert run_monthly(now) is None  # returns before touching the database
