"""The tariff data files (shared/benefits/data) are well formed: every row has its source and
effective dates, no two rows of one kind are in force on the same day, each year has every
방문요양 band, and the holidays are the ones the notice lists (substitute holidays included)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from shared.benefits.tariffs import DATA_DIR, Effective, TariffBook

BOOK = TariffBook.from_data_files()
FILES = sorted(p.name for p in Path(DATA_DIR).glob("*.json"))
BANDS = [30, 60, 90, 120, 150, 180, 210, 240]
GRADES = ["grade_1", "grade_2", "grade_3", "grade_4", "grade_5", "cognitive_support"]


def _rows(name: str) -> list[dict[str, Any]]:
    return list(json.loads((Path(DATA_DIR) / name).read_text(encoding="utf-8"))["rows"])


@pytest.mark.parametrize("name", FILES)
def test_every_row_names_its_source(name: str) -> None:
    for row in _rows(name):
        assert row["source"].strip(), row
        assert isinstance(row["verified"], bool), row
        if "effective_from" in row:
            date.fromisoformat(row["effective_from"])


def test_a_row_not_checked_against_the_notice_says_so_in_its_source() -> None:
    for name in FILES:
        for row in _rows(name):
            if not row["verified"]:
                assert "to verify against the notice" in row["source"], (name, row)


def _overlap(a: Effective, b: Effective) -> bool:
    a_end, b_end = a.effective_to or date.max, b.effective_to or date.max
    return a.effective_from < b_end and b.effective_from < a_end


@pytest.mark.parametrize(
    ("rows", "key"),
    [
        (BOOK.caps, lambda r: r.grade),
        (BOOK.fees, lambda r: (r.service, r.min_minutes)),
        (BOOK.surcharges, lambda r: (r.service, r.kind)),
        (BOOK.entitlements, lambda r: (r.grade, r.service)),
        (BOOK.family_limits, lambda r: "family"),
        (BOOK.rounding, lambda r: r.target),
    ],
    ids=["caps", "fees", "surcharges", "entitlements", "family_limits", "rounding"],
)
def test_no_two_rows_of_one_kind_are_in_force_on_the_same_day(rows: Any, key: Any) -> None:
    for a, b in combinations(rows, 2):
        if key(a) == key(b):
            assert not _overlap(a, b), (a, b)


@pytest.mark.parametrize("year", [2025, 2026])
def test_each_year_has_every_band_and_every_cap(year: int) -> None:
    day = date(year, 6, 1)
    assert sorted(r.min_minutes for r in BOOK.fee_bands("home_visit_care", day)) == BANDS
    fees = [r.amount_won for r in sorted(BOOK.fee_bands("home_visit_care", day),
                                         key=lambda r: r.min_minutes)]  # fmt: skip
    assert fees == sorted(fees), "a longer band never costs less"
    for grade in GRADES:
        assert BOOK.cap(grade, day) is not None, grade


def test_the_2026_caps_and_fees_are_the_issues_figures() -> None:
    day = date(2026, 1, 1)
    caps = {grade: BOOK.cap(grade, day).amount_won for grade in GRADES}  # type: ignore[union-attr]
    assert caps == {
        "grade_1": 2_512_900, "grade_2": 2_331_200, "grade_3": 1_528_200,
        "grade_4": 1_409_700, "grade_5": 1_208_900, "cognitive_support": 676_320,
    }  # fmt: skip
    fees = {r.min_minutes: r.amount_won for r in BOOK.fee_bands("home_visit_care", day)}
    assert {m: fees[m] for m in (30, 60, 90, 120, 180, 240)} == {
        30: 17_450,
        60: 25_320,
        90: 34_120,
        120: 43_430,
        180: 55_350,
        240: 70_080,
    }
    caps_2025 = {grade: BOOK.cap(grade, date(2025, 12, 31)).amount_won for grade in GRADES}  # type: ignore[union-attr]
    assert caps_2025 == {
        "grade_1": 2_306_400, "grade_2": 2_083_400, "grade_3": 1_485_700,
        "grade_4": 1_370_600, "grade_5": 1_177_000, "cognitive_support": 657_400,
    }  # fmt: skip


def test_cognitive_support_and_no_grade_are_not_entitled_to_home_visit_care() -> None:
    day = date(2026, 1, 1)
    assert not BOOK.entitled("cognitive_support", "home_visit_care", day)
    assert not BOOK.entitled("none", "home_visit_care", day)
    assert all(BOOK.entitled(f"grade_{n}", "home_visit_care", day) for n in range(1, 6))


def test_the_family_caregiver_limits_are_data() -> None:
    limit = BOOK.family_limit(date(2026, 1, 1))
    assert limit is not None
    assert (limit.max_minutes_per_day, limit.max_days_per_month) == (60, 20)
    assert {e["code"] for e in limit.exceptions} == {"age_65_spouse", "dementia_behaviour"}


def test_substitute_holidays_fall_on_weekdays_after_a_holiday_on_a_weekend() -> None:
    substitutes = [h for h in BOOK.holidays.values() if h.substitute]
    assert {h.holiday_date for h in substitutes} >= {
        date(2025, 3, 3), date(2025, 5, 6), date(2025, 10, 8),
        date(2026, 3, 2), date(2026, 5, 25), date(2026, 8, 17), date(2026, 10, 5),
    }  # fmt: skip
    for holiday in substitutes:
        assert holiday.holiday_date.weekday() < 5, holiday
        assert "대체공휴일" in holiday.name
        day_before = holiday.holiday_date - timedelta(days=1)
        assert BOOK.is_holiday(day_before) or day_before.weekday() == 5, holiday


def test_every_year_lists_the_fixed_national_holidays() -> None:
    for year in (2025, 2026):
        for month, day in ((1, 1), (3, 1), (5, 5), (6, 6), (8, 15), (10, 3), (10, 9), (12, 25)):
            assert date(year, month, day) in BOOK.holidays, (year, month, day)
