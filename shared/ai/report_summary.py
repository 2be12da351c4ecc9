"""The care report's words by AI, checked, with shared.care.report_text as the fallback.

The prompt carries the report's figures only (period, completion rates, vital-sign statistics):
no patient fact at all. The answer (summary + suggestions) must be Korean, bounded in length,
free of drug names, doses and prescribing words (a reading in mg/dL is not a dose), and may
quote only percentages that are among the figures' rates, so it cannot invent numbers.

How the care service uses it (the AI call runs outside any database transaction):

    written = report_summary.write(figures)           # ReportText + Generation, never raises
    ... insert the report with written.text.summary / .suggestions / .source ...
    report_summary.record(cur, written, patient_id=..., requested_by=..., report_id=...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.ai import checks, generations, prompts, structured
from shared.ai.client import AiConfig, ai_config
from shared.ai.generations import Generation
from shared.care import report_text
from shared.care.report_text import ReportFigures, ReportText
from shared.db import Cursor

KIND = "care_report_summary"
MAX_SUMMARY, MAX_SUGGESTION, MAX_SUGGESTIONS = 800, 300, 6
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


class ReportAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str
    suggestions: list[str]


@dataclass(frozen=True)
class WrittenReport:
    text: ReportText
    generation: Generation


def figures_input(figures: ReportFigures) -> dict[str, Any]:
    """The figures as plain data: the prompt's only input (and what its hash is taken of)."""
    return {
        "report_type": figures.report_type,
        "start_date": figures.start_date.isoformat(),
        "end_date": figures.end_date.isoformat(),
        "medication_rate": figures.medication_rate,
        "meal_rate": figures.meal_rate,
        "overall_rate": figures.overall_rate,
        "by_category": dict(sorted(figures.by_category.items())),
        "vitals": {
            key: {k: float(v) if k != "count" else int(v) for k, v in stats.items()}
            for key, stats in sorted(figures.vitals.items())
        },
    }


def _figures_text(figures: ReportFigures) -> str:
    def rate(value: float | None) -> str:
        return "기록 없음" if value is None else f"{report_text.number(value)}%"

    lines = [
        f"- 리포트: {report_text.REPORT_LABELS.get(figures.report_type, figures.report_type)}",
        f"- 기간: {figures.start_date.isoformat()} ~ {figures.end_date.isoformat()}",
        f"- 복약 완료율: {rate(figures.medication_rate)}",
        f"- 식사 완료율: {rate(figures.meal_rate)}",
        f"- 전체 완료율: {rate(figures.overall_rate)}",
    ]
    for code, value in sorted(figures.by_category.items()):
        lines.append(f"- 항목별 완료율 {code}: {rate(value)}")
    for key, stats in sorted(figures.vitals.items()):
        label = report_text.VITAL_LABELS.get(key, key)
        unit = report_text.VITAL_UNITS.get(key, "")
        lines.append(
            f"- {label}: 평균 {report_text.number(float(stats['avg']))}{unit}, 최저"
            f" {report_text.number(float(stats['min']))}, 최고"
            f" {report_text.number(float(stats['max']))}, {stats['count']}회 측정"
        )
    return "\n".join(lines)


def _rates(figures: ReportFigures) -> set[float]:
    """The rates a text may quote, as given or rounded to one decimal or a whole number."""
    values = [figures.medication_rate, figures.meal_rate, figures.overall_rate]
    values += list(figures.by_category.values())
    return {round(float(v), places) for v in values if v is not None for places in (0, 1, 2)}


def answer_problems(answer: ReportAnswer, figures: ReportFigures) -> list[str]:
    problems = [
        p
        for p in (
            checks.length_problem("summary", answer.summary, 20, MAX_SUMMARY),
            checks.korean_problem("summary", answer.summary),
        )
        if p
    ]
    if len(answer.suggestions) > MAX_SUGGESTIONS:
        problems.append(f"at most {MAX_SUGGESTIONS} suggestions")
    for index, text in enumerate(answer.suggestions):
        for p in (
            checks.length_problem(f"suggestion {index + 1}", text, 5, MAX_SUGGESTION),
            checks.korean_problem(f"suggestion {index + 1}", text),
        ):
            if p:
                problems.append(p)
    known = _rates(figures)
    for label, text in [("summary", answer.summary)] + [
        (f"suggestion {i + 1}", s) for i, s in enumerate(answer.suggestions)
    ]:
        problems += [f"{label}: {p}" for p in checks.medical_text_problems(text)]
        invented = [m for m in _PERCENT.findall(text) if round(float(m), 2) not in known]
        if invented:
            problems.append(f"{label}: percentages not among the report's rates ({invented[0]}%)")
    return problems


def write(figures: ReportFigures, *, config: AiConfig | None = None) -> WrittenReport:
    """The report's summary and suggestions: AI when on and accepted, else the template."""
    config = config or ai_config()
    generated = None
    if config.enabled:
        generated = structured.generate(
            prompts.report_messages(_figures_text(figures)),
            ReportAnswer,
            lambda answer: answer_problems(answer, figures),
            config=config,
            max_tokens=1200,
        )
    generation = Generation.of(
        KIND,
        prompt_version=prompts.PROMPT_VERSIONS[KIND],
        input_hash=prompts.input_hash(KIND, figures_input(figures)),
        config=config,
        generated=generated,
    )
    if generated is not None and generated.value is not None:
        answer = generated.value
        text = ReportText(
            summary=answer.summary.strip(),
            suggestions=[s.strip() for s in answer.suggestions if s.strip()],
            source="ai",
        )
        return WrittenReport(text, generation)
    return WrittenReport(report_text.render(figures), generation)


def record(
    cur: Cursor,
    written: WrittenReport,
    *,
    patient_id: int,
    requested_by: int | None,
    report_id: int,
) -> int:
    """Store the generation of a report, in the transaction that stored the report."""
    return generations.insert(
        cur,
        written.generation,
        patient_id=patient_id,
        requested_by=requested_by,
        resource_type="care_report",
        resource_ids=[report_id],
    )
