"""Timesheet minutes: the surcharge windows in Korean time, each counted on its own, and the
payroll CSV (UTF-8 with BOM, Korean header, no formulas)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from models.dates import KOREA
from models.timesheets import SurchargeMinutes, Timesheet, TimesheetTotals, TimesheetVisit
from shared.benefits.tariffs import Holiday, TariffBook
from shared.benefits.timesheets import CSV_HEADER, Split, surcharge_minutes, to_csv

#: The tariffs as the migration loads them (the windows and holidays are data).
BOOK = TariffBook.from_data_files()
NO_HOLIDAYS = dataclasses.replace(BOOK, holidays={})


def with_holiday(day: date) -> TariffBook:
    return dataclasses.replace(
        BOOK, holidays={day: Holiday(day, "임시공휴일", False, "test", False)}
    )


def kst(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=KOREA)


# 2026-11-02 is a Monday, 2026-11-01 and 2026-11-08 Sundays.
@pytest.mark.parametrize(
    ("start", "end", "book", "split"),
    [
        (kst(2, 9), kst(2, 12), NO_HOLIDAYS, Split(180, 0, 0, 0)),  # a weekday morning
        (kst(2, 17), kst(2, 19, 30), NO_HOLIDAYS, Split(150, 90, 0, 0)),  # into the evening
        (kst(2, 21), kst(2, 23), NO_HOLIDAYS, Split(120, 60, 60, 0)),  # evening then night
        (kst(2, 23), kst(3, 7), NO_HOLIDAYS, Split(480, 0, 420, 0)),  # night past midnight
        (kst(8, 10), kst(8, 12), NO_HOLIDAYS, Split(120, 0, 0, 120)),  # a Sunday
        (kst(8, 23), kst(9, 1), NO_HOLIDAYS, Split(120, 0, 120, 60)),  # Sunday night: both
        (kst(3, 9), kst(3, 11), with_holiday(date(2026, 11, 3)), Split(120, 0, 0, 120)),
        (kst(2, 9), kst(2, 9).replace(minute=59, second=59), NO_HOLIDAYS, Split(59, 0, 0, 0)),
    ],
)  # fmt: skip
def test_surcharge_windows_are_korean_time_and_counted_each_on_its_own(start, end, book, split):
    assert surcharge_minutes(start, end, book) == split


def test_instants_in_utc_are_read_in_korean_time():
    # 09:00-11:00 UTC is 18:00-20:00 in Seoul: evening.
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    end = datetime(2026, 11, 2, 11, tzinfo=UTC)
    assert surcharge_minutes(start, end, NO_HOLIDAYS) == Split(120, 120, 0, 0)


def test_the_data_files_know_the_public_holidays():
    # 2026-03-02: 대체공휴일 for 삼일절 (a Sunday); the tariff data lists it.
    assert surcharge_minutes(kst(2, 9, month=3), kst(2, 11, month=3), BOOK).holiday == 120


def test_a_visit_that_does_not_end_after_it_starts_is_refused():
    with pytest.raises(ValueError, match="ends after it starts"):
        surcharge_minutes(kst(2, 9), kst(2, 9), BOOK)


def _sheet(patient_name: str) -> Timesheet:
    minutes = SurchargeMinutes(evening=60, night=0, holiday=0)
    visit = TimesheetVisit(
        visit_id=7,
        patient_id=3,
        patient_name=patient_name,
        date=date(2026, 11, 2),
        start=kst(2, 17),
        end=kst(2, 19),
        minutes=120,
        surcharge_minutes=minutes,
        needs_review=True,
    )
    return Timesheet(
        caregiver_id=5,
        caregiver_name="박보호",
        month="2026-11",
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        totals=TimesheetTotals(visits=1, minutes=120, surcharge_minutes=minutes),
        visits=[visit],
    )


def test_the_csv_has_a_bom_a_korean_header_and_one_row_per_visit():
    body = to_csv([_sheet("김영희")]).model_dump_json().encode("utf-8")
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(CSV_HEADER)
    assert lines[1] == "5,박보호,7,3,김영희,2026-11-02,17:00,19:00,120,60,0,0,Y"
    assert lines[2:] == [""]


def test_a_name_is_never_a_spreadsheet_formula():
    lines = to_csv([_sheet("=HYPERLINK(1)")]).text.split("\r\n")
    assert ",'=HYPERLINK(1)," in lines[1]
