"""Care plans written by AI, checked, or taken from the activity templates.

The answer schema has no field for a drug, a dose or a diagnosis: each activity is a time, a
title, a care-log category, an assignee and an optional note. The checks then require exactly
the requested days (each once, no other date), valid HH:MM times, 3..16 activities a day,
short Korean titles and notes, and no drug name, dose, prescribing word or allergen in any
text. `write` never fails: it returns the AI plan or the template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.ai import checks, prompts, structured
from shared.ai.client import AiConfig, ai_config
from shared.ai.generations import Generation
from shared.ai.prompts import CareProfile
from shared.ai.templates.care_activities import Activity, template_day

KIND = "care_plan"
DISCLAIMER = (
    "이 돌봄 계획은 참고용이며 의료적 판단을 대체하지 않습니다. 건강 상태가 바뀌면 담당 의료진과"
    " 상의하시고, 응급 상황에는 즉시 119에 연락하세요."
)
MIN_ACTIVITIES, MAX_ACTIVITIES = 3, 16
MAX_TITLE, MAX_NOTE = 60, 200
MAX_TOKENS_PER_DAY = 900
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

Category = Literal["medication", "meal", "exercise", "vital_check", "hygiene", "cognitive", "other"]


# -- the answer schema (structured outputs) --------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlannedActivity(_Strict):
    time: str
    title: str
    category: Category
    assignee: Literal["caregiver", "family"]
    note: str | None


class PlannedDay(_Strict):
    date: str
    activities: list[PlannedActivity]


class CarePlanAnswer(_Strict):
    days: list[PlannedDay]


# -- checks ----------------------------------------------------------------------------------


def plan_problems(answer: CarePlanAnswer, profile: CareProfile, dates: list[date]) -> list[str]:
    wanted = [d.isoformat() for d in dates]
    given = [day.date for day in answer.days]
    problems = []
    if sorted(given) != sorted(wanted) or len(set(given)) != len(given):
        problems.append(f"days must be exactly {', '.join(wanted)}, each once (got {given})")
    for day in answer.days:
        count = len(day.activities)
        if not MIN_ACTIVITIES <= count <= MAX_ACTIVITIES:
            problems.append(
                f"{day.date}: {count} activities (allowed {MIN_ACTIVITIES}..{MAX_ACTIVITIES})"
            )
        for activity in day.activities:
            problems += _activity_problems(day.date, activity, profile)
    return problems


def _activity_problems(day: str, activity: PlannedActivity, profile: CareProfile) -> list[str]:
    where = f"{day} {activity.time} '{activity.title[:40]}'"
    problems = []
    if not _HH_MM.match(activity.time):
        problems.append(f"{where}: time must be HH:MM (24 h)")
    for field_name, text, limit in (
        ("title", activity.title, MAX_TITLE),
        ("note", activity.note, MAX_NOTE),
    ):
        if text is None:
            continue
        low = 1 if field_name == "title" else 0
        problem = checks.length_problem(f"{where}: {field_name}", text, low, limit)
        if problem:
            problems.append(problem)
        if text.strip() and (korean := checks.korean_problem(f"{where}: {field_name}", text)):
            problems.append(korean)
        problems += [
            f"{where}: {p}" for p in checks.medical_text_problems(text, profile.medication_names)
        ]
        problems += checks.allergen_problems(f"{where}: {field_name}", [text], profile.allergens)
    return problems


# -- writing a plan --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDay:
    date: date
    activities: list[Activity]


@dataclass(frozen=True)
class WrittenPlan:
    days: list[PlanDay]
    source: str
    generation: Generation


def write(
    profile: CareProfile, start: date, days: int, *, config: AiConfig | None = None
) -> WrittenPlan:
    """The plan of `days` days from `start`: AI when on and accepted, else the template."""
    config = config or ai_config()
    dates = [start + timedelta(days=n) for n in range(days)]
    prompt_input = {**profile.prompt_input(), "start_date": start.isoformat(), "days": days}
    generated = None
    if config.enabled:
        generated = structured.generate(
            prompts.care_plan_messages(profile, start, days),
            CarePlanAnswer,
            lambda answer: plan_problems(answer, profile, dates),
            config=config,
            max_tokens=MAX_TOKENS_PER_DAY * days,
        )
    generation = Generation.of(
        KIND,
        prompt_version=prompts.PROMPT_VERSIONS[KIND],
        input_hash=prompts.input_hash(KIND, prompt_input),
        config=config,
        generated=generated,
    )
    if generated is not None and generated.value is not None:
        return WrittenPlan(_from_answer(generated.value), "ai", generation)
    return WrittenPlan(template_plan(profile, dates), "template", generation)


def template_plan(profile: CareProfile, dates: list[date]) -> list[PlanDay]:
    return [
        PlanDay(
            day,
            template_day(
                day=day,
                care_level=profile.care_level,
                mobility_status=profile.mobility_status,
                conditions=profile.conditions,
                takes_medication=profile.takes_medication,
            ),
        )
        for day in dates
    ]


def template_as_answer(days: list[PlanDay]) -> CarePlanAnswer:
    """A template plan in the answer's shape (the templates must pass the same checks)."""
    return CarePlanAnswer(
        days=[
            PlannedDay(
                date=day.date.isoformat(),
                activities=[
                    PlannedActivity(
                        time=a.time,
                        title=a.title,
                        category=a.category,
                        assignee=a.assignee,
                        note=a.note,
                    )
                    for a in day.activities
                ],
            )
            for day in days
        ]
    )


def _from_answer(answer: CarePlanAnswer) -> list[PlanDay]:
    days = [
        PlanDay(
            date.fromisoformat(day.date),
            sorted(
                (
                    Activity(
                        time=a.time,
                        title=a.title.strip(),
                        category=a.category,
                        assignee=a.assignee,
                        note=(a.note or "").strip() or None,
                    )
                    for a in day.activities
                ),
                key=lambda a: a.time,
            ),
        )
        for day in answer.days
    ]
    return sorted(days, key=lambda d: d.date)
