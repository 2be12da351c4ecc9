"""Request models of schedules, care logs and reports: dates, times, ranges and periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from pydantic import ValidationError

from models.care import (
    CareLogCreate,
    CareLogUpdate,
    CareReportCreate,
    SchedulesQuery,
    parse_iso_date,
)
from models.dates import korea_today


def locs(exc: ValidationError) -> set[tuple]:
    return {tuple(e["loc"]) for e in exc.errors()}


def test_korea_today_is_the_korean_date():
    assert korea_today(datetime(2026, 3, 1, 15, 30, tzinfo=UTC)) == date(2026, 3, 2)
    assert korea_today(datetime(2026, 3, 1, 14, 59, tzinfo=UTC)) == date(2026, 3, 1)


@pytest.mark.parametrize("bad", ["20260302", "2026-3-2", "2026-02-29", "2026-W10-1", 1772409600])
def test_only_calendar_dates_as_yyyy_mm_dd(bad):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_iso_date(bad)


def test_dates_parse():
    assert parse_iso_date("2028-02-29") == date(2028, 2, 29)
    assert parse_iso_date(date(2026, 1, 1)) == date(2026, 1, 1)


def test_the_default_window_is_seven_days_from_today():
    query = SchedulesQuery.model_validate({})
    assert query.from_ == korea_today()
    assert query.to is not None
    assert query.from_ is not None
    assert (query.to - query.from_).days == 6
    only_from = SchedulesQuery.model_validate({"from": "2026-03-02"})
    assert (only_from.from_, only_from.to) == (date(2026, 3, 2), date(2026, 3, 8))
    only_to = SchedulesQuery.model_validate({"to": "2026-03-08"})
    assert (only_to.from_, only_to.to) == (date(2026, 3, 2), date(2026, 3, 8))


def test_a_backwards_or_too_long_range_names_to():
    for params in (
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2026-01-01", "to": "2026-04-03"},
    ):
        with pytest.raises(ValidationError) as raised:
            SchedulesQuery.model_validate(params)
        assert locs(raised.value) == {("to",)}


def test_care_log_times_are_hh_mm():
    body = CareLogCreate.model_validate(
        {"category": "meal", "task_name": "점심", "scheduled_time": "23:59"}
    )
    assert body.scheduled_time == time(23, 59)
    for bad in ("24:00", "7:30", "07:30:00", "0730"):
        with pytest.raises(ValidationError) as raised:
            CareLogCreate.model_validate(
                {"category": "meal", "task_name": "x", "scheduled_time": bad}
            )
        assert locs(raised.value) == {("scheduled_time",)}


def test_vitals_keep_only_the_readings_given():
    update = CareLogUpdate.model_validate({"is_completed": True, "vitals": {"pulse": 70}})
    assert update.vitals is not None
    assert update.vitals.readings() == {"pulse": 70}
    empty = CareLogUpdate.model_validate({"is_completed": True, "vitals": {}})
    assert empty.vitals is not None
    assert empty.vitals.readings() is None
    assert "vitals" not in CareLogUpdate.model_validate({"is_completed": False}).model_fields_set


@pytest.mark.parametrize(
    ("kind", "end", "ok"),
    [
        ("weekly", "2026-06-07", True),
        ("weekly", "2026-06-08", False),
        ("monthly", "2026-07-01", True),
        ("monthly", "2026-07-02", False),
        ("weekly", "2026-06-01", True),
        ("weekly", "2026-05-31", False),
    ],
)
def test_report_periods(kind, end, ok):
    body = {"report_type": kind, "start_date": "2026-06-01", "end_date": end}
    if ok:
        assert CareReportCreate.model_validate(body).end_date == date.fromisoformat(end)
    else:
        with pytest.raises(ValidationError) as raised:
            CareReportCreate.model_validate(body)
        assert locs(raised.value) == {("end_date",)}
