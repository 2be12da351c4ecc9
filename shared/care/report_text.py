"""The words of a care report: a deterministic Korean summary and suggestions from its numbers.

Kept apart from the arithmetic (done in SQL) so another writer, e.g. an AI one with this
template as its fallback, can replace `render` without touching how the numbers are made. The
text gives care advice only: no drugs, doses or diagnoses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from models.vocabularies import CareLogCategory

SOURCE = "template"
#: A completion rate below this (percent) earns a suggestion.
LOW_RATE = 80.0

REPORT_LABELS = {"weekly": "주간", "monthly": "월간"}
VITAL_LABELS = {
    "systolic": "수축기 혈압",
    "diastolic": "이완기 혈압",
    "pulse": "맥박",
    "temperature_c": "체온",
    "blood_sugar": "혈당",
}
VITAL_UNITS = {
    "systolic": "mmHg",
    "diastolic": "mmHg",
    "pulse": "회/분",
    "temperature_c": "℃",
    "blood_sugar": "mg/dL",
}
#: Usual adult ranges (low, high); a reading outside one earns a suggestion to follow it up.
NORMAL_BANDS: dict[str, tuple[float, float]] = {
    "systolic": (90, 140),
    "diastolic": (60, 90),
    "pulse": (60, 100),
    "temperature_c": (36.0, 37.5),
    "blood_sugar": (70, 180),
}


@dataclass(frozen=True)
class ReportFigures:
    """What the report's text is written from (rates in percent, None when nothing to rate)."""

    report_type: str
    start_date: date
    end_date: date
    medication_rate: float | None
    meal_rate: float | None
    overall_rate: float | None
    by_category: dict[str, float] = field(default_factory=dict)
    #: reading -> {"min", "avg", "max", "count"}
    vitals: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportText:
    summary: str
    suggestions: list[str]
    source: str = SOURCE


def number(value: float) -> str:
    """92.0 -> "92", 91.67 -> "91.67", 36.5 -> "36.5"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def render(figures: ReportFigures) -> ReportText:
    return ReportText(summary=summary(figures), suggestions=suggestions(figures))


def summary(figures: ReportFigures) -> str:
    label = REPORT_LABELS.get(figures.report_type, "")
    period = f"{figures.start_date.isoformat()} ~ {figures.end_date.isoformat()}"
    head = f"{label} 돌봄 리포트({period})입니다."
    if figures.overall_rate is None:
        sentences = [head, "이 기간에 기록된 돌봄 활동이 없습니다."]
    else:
        rates = [
            _rate_phrase("복약", figures.medication_rate),
            _rate_phrase("식사", figures.meal_rate),
            f"전체 완료율은 {number(figures.overall_rate)}%입니다.",
        ]
        sentences = [head, ", ".join(rates[:2]) + ", " + rates[2]]
    readings = [
        f"{VITAL_LABELS[key]} 평균 {number(stats['avg'])}{VITAL_UNITS[key]}"
        f"(최저 {number(stats['min'])}, 최고 {number(stats['max'])}, {stats['count']}회 측정)"
        for key, stats in _known_vitals(figures)
    ]
    if readings:
        sentences.append("측정된 활력징후는 " + ", ".join(readings) + "입니다.")
    return " ".join(sentences)


def suggestions(figures: ReportFigures) -> list[str]:
    found: list[str] = []
    if figures.overall_rate is None:
        found.append("기록된 돌봄 활동이 없습니다. 돌봄 일정을 등록하고 활동을 기록해 주세요.")
    if (medication := figures.medication_rate) is not None and _low(medication):
        found.append(
            f"복약 완료율이 {number(medication)}%로 낮습니다. 복약 시간에 알림을"
            " 설정하고 요양보호사와 복약 확인 방법을 함께 점검해 보세요."
        )
    if (meal := figures.meal_rate) is not None and _low(meal):
        found.append(
            f"식사 완료율이 {number(meal)}%로 낮습니다. 식사량과 식욕 변화를"
            " 살펴보고, 필요하면 식단을 조정해 보세요."
        )
    for code, rate in sorted(figures.by_category.items()):
        if code in ("medication", "meal") or not _low(rate):
            continue
        found.append(
            f"{_category_label(code)} 활동 완료율이 {number(rate)}%입니다. 일정과 시간대가"
            " 무리하지 않은지 확인해 보세요."
        )
    for key, stats in _known_vitals(figures):
        low, high = NORMAL_BANDS[key]
        unit = VITAL_UNITS[key]
        band = f"{number(low)}~{number(high)}{unit}"
        if float(stats["max"]) > high:
            found.append(
                f"{VITAL_LABELS[key]} 측정값 중 정상 범위({band})보다 높은 값이 있습니다"
                f"(최고 {number(stats['max'])}{unit}). 꾸준히 측정하고 담당 의료진과 상담해"
                " 보세요."
            )
        if float(stats["min"]) < low:
            found.append(
                f"{VITAL_LABELS[key]} 측정값 중 정상 범위({band})보다 낮은 값이 있습니다"
                f"(최저 {number(stats['min'])}{unit}). 꾸준히 측정하고 담당 의료진과 상담해"
                " 보세요."
            )
    return found


def _rate_phrase(label: str, rate: float | None) -> str:
    if rate is None:
        return f"{label} 기록 없음"
    return f"{label} 완료율은 {number(rate)}%"


def _low(rate: float | None) -> bool:
    return rate is not None and rate < LOW_RATE


def _known_vitals(figures: ReportFigures) -> list[tuple[str, dict[str, Any]]]:
    return [(key, figures.vitals[key]) for key in VITAL_LABELS if key in figures.vitals]


def _category_label(code: str) -> str:
    try:
        return CareLogCategory(code).label
    except ValueError:
        return code
