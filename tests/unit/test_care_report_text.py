"""The deterministic Korean text of care reports."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from shared.care.report_text import LOW_RATE, ReportFigures, number, render, suggestions, summary

BASE = ReportFigures(
    report_type="weekly",
    start_date=date(2026, 6, 1),
    end_date=date(2026, 6, 7),
    medication_rate=92.0,
    meal_rate=85.5,
    overall_rate=88.24,
    by_category={"medication": 92.0, "meal": 85.5, "hygiene": 90.0},
    vitals={},
)


def figures(**overrides) -> ReportFigures:
    return replace(BASE, **overrides)


@pytest.mark.parametrize(
    ("value", "text"),
    [(92.0, "92"), (91.67, "91.67"), (36.5, "36.5"), (0.0, "0"), (100, "100"), (87.50, "87.5")],
)
def test_numbers_drop_needless_decimals(value, text):
    assert number(value) == text


def test_the_summary_states_the_rates():
    assert summary(figures()) == (
        "주간 돌봄 리포트(2026-06-01 ~ 2026-06-07)입니다."
        " 복약 완료율은 92%, 식사 완료율은 85.5%, 전체 완료율은 88.24%입니다."
    )


def test_a_monthly_summary_without_meals_or_logs():
    no_meals = summary(figures(report_type="monthly", meal_rate=None))
    assert no_meals.startswith("월간 돌봄 리포트(2026-06-01 ~ 2026-06-07)입니다.")
    assert "식사 기록 없음" in no_meals
    empty = render(figures(medication_rate=None, meal_rate=None, overall_rate=None, by_category={}))
    assert empty.summary.endswith("이 기간에 기록된 돌봄 활동이 없습니다.")
    assert len(empty.suggestions) == 1
    assert empty.source == "template"


def test_good_figures_earn_no_suggestions():
    vitals = {"systolic": {"min": 110, "avg": 120, "max": 140, "count": 3}}
    assert suggestions(figures(vitals=vitals)) == []


def test_rates_below_the_threshold_earn_suggestions():
    assert LOW_RATE == 80
    found = suggestions(
        figures(
            medication_rate=79.99,
            meal_rate=80.0,  # not below
            by_category={"medication": 79.99, "meal": 80.0, "exercise": 50.0, "cognitive": 10.0},
        )
    )
    assert [s.split(" ")[0] for s in found] == ["복약", "인지활동", "운동"]
    assert "79.99%" in found[0]


def test_readings_outside_the_normal_band_earn_suggestions():
    vitals = {
        "temperature_c": {"min": 35.5, "avg": 36.4, "max": 38.2, "count": 4},
        "blood_sugar": {"min": 90, "avg": 120, "max": 150, "count": 2},
        "pulse": {"min": 55, "avg": 70, "max": 80, "count": 2},
    }
    found = suggestions(figures(vitals=vitals))
    assert len(found) == 3
    assert found[0].startswith("맥박 측정값 중 정상 범위(60~100회/분)보다 낮은 값이 있습니다")
    assert "최저 55회/분" in found[0]
    assert "정상 범위(36~37.5℃)보다 높은 값" in found[1]
    assert "정상 범위(36~37.5℃)보다 낮은 값" in found[2]
    text = summary(figures(vitals=vitals))
    # Readings are listed in a fixed order, whatever order they came in.
    assert text.index("맥박") < text.index("체온") < text.index("혈당")
