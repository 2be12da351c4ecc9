"""Versioned prompts, built only from what a prompt may carry.

Privacy: a prompt about a patient is built from a `CareProfile.prompt_input()`: an age band,
condition codes, the diet and allergens, the care level and mobility, and whether medicines
are taken. Never the name, birth date, address, phone, guardian, region or the medicines'
names (those stay in the profile for the output checks only). The input hash stored with
every generation is the sha256 of exactly that input (with the kind and prompt version), so
reviewers can tell identical requests apart without the data.

Bump a kind's version whenever its prompt text changes: stored generations name the version
they were made with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from models.vocabularies import (
    Allergen,
    CareLevel,
    CareLogCategory,
    Condition,
    DietType,
    MobilityStatus,
    PersonalityAxis,
)

PROMPT_VERSIONS = {
    "care_plan": "care-plan/2026-11-v1",
    "meal_plan": "meal-plan/2026-11-v1",
    "personality_analysis": "personality/2026-11-v1",
    "care_report_summary": "report-summary/2026-11-v1",
}

MEAL_TYPE_LABELS = {"breakfast": "아침", "lunch": "점심", "dinner": "저녁", "snack": "간식"}


def age_band(age: int | None) -> str:
    """82 -> "80대"; under 60 -> "60세 미만"; 100 and over -> "100세 이상"."""
    if age is None:
        return "알 수 없음"
    if age < 60:
        return "60세 미만"
    if age >= 100:
        return "100세 이상"
    return f"{age // 10 * 10}대"


@dataclass(frozen=True)
class CareProfile:
    """What AI writing may know about a patient, and what its checks need besides."""

    age_band: str
    care_level: str
    mobility_status: str
    conditions: tuple[str, ...] = ()
    diet_type: str = "regular"
    allergens: tuple[str, ...] = ()
    takes_medication: bool = False
    #: For the output checks only (no answer may name them); never sent in a prompt.
    medication_names: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_patient(cls, patient: Mapping[str, Any]) -> CareProfile:
        """From a whole Patient (shared.patients.repository.get_patient)."""
        diet = patient.get("diet") or {}
        medications = patient.get("medications") or []
        return cls(
            age_band=age_band(patient.get("age")),
            care_level=str(patient["care_level"]),
            mobility_status=str(patient["mobility_status"]),
            conditions=tuple(sorted(str(c["code"]) for c in patient.get("conditions") or [])),
            diet_type=str(diet.get("diet_type") or DietType.REGULAR.value),
            allergens=tuple(sorted(str(a) for a in diet.get("allergens") or [])),
            takes_medication=bool(medications),
            medication_names=tuple(str(m["name"]) for m in medications if m.get("name")),
        )

    def prompt_input(self) -> dict[str, Any]:
        """The only patient facts a prompt carries."""
        return {
            "age_band": self.age_band,
            "care_level": self.care_level,
            "mobility_status": self.mobility_status,
            "conditions": list(self.conditions),
            "diet_type": self.diet_type,
            "allergens": list(self.allergens),
            "takes_medication": self.takes_medication,
        }

    def described(self) -> str:
        """The prompt input in Korean, for the model."""
        conditions = ", ".join(Condition(c).label for c in self.conditions) or "없음"
        allergens = ", ".join(Allergen(a).label for a in self.allergens) or "없음"
        return "\n".join(
            [
                f"- 연령대: {self.age_band}",
                f"- 장기요양등급: {CareLevel(self.care_level).label}",
                f"- 거동 상태: {MobilityStatus(self.mobility_status).label}",
                f"- 질환: {conditions}",
                f"- 식단 유형: {DietType(self.diet_type).label}",
                f"- 알레르기: {allergens}",
                f"- 복용 중인 약: {'있음' if self.takes_medication else '없음'}",
            ]
        )


def input_hash(kind: str, prompt_input: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of (kind, prompt version, input)."""
    document = {"kind": kind, "version": PROMPT_VERSIONS[kind], "input": prompt_input}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_SAFETY_RULES = """\
규칙:
- 약 이름, 약의 용량이나 복용 횟수(mg, 정, 회/일 등), 진단이나 처방에 대한 내용은 절대 쓰지 마세요.
- 의학적 판단이나 치료를 권하지 말고, 일상 돌봄과 생활 관리에 대해서만 쓰세요.
- 모든 문장은 한국어로, 짧고 쉽게 쓰세요."""


def care_plan_messages(profile: CareProfile, start: date, days: int) -> list[dict[str, str]]:
    dates = [(start + timedelta(days=n)).isoformat() for n in range(days)]
    categories = ", ".join(f"{c.value}({c.label})" for c in CareLogCategory)
    system = f"""\
당신은 한국의 재가 요양 돌봄 계획을 돕는 도우미입니다.
요양보호사와 가족이 함께 따를 하루 돌봄 일정을 만듭니다.
{_SAFETY_RULES}
- 활동의 category는 다음 중 하나입니다: {categories}.
- assignee는 caregiver(요양보호사) 또는 family(가족)입니다.
- time은 24시간제 HH:MM, date는 요청한 날짜(YYYY-MM-DD)만 씁니다.
- 하루에 4~10개의 활동을 시간 순서로 넣으세요.
- 알레르기 식품과 그것으로 만든 식품(예: 대두 -> 두부, 간장, 된장)은 어떤 활동에도 쓰지 마세요.
- medication 활동은 '복약 확인'처럼 확인만 쓰고 약 이름이나 용량은 쓰지 마세요."""
    user = f"""\
다음 어르신의 돌봄 계획을 {days}일 치 만들어 주세요.
날짜: {", ".join(dates)}
{profile.described()}"""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def meal_plan_messages(
    profile: CareProfile, day: date, meal_types: Sequence[str], limits: str
) -> list[dict[str, str]]:
    wanted = ", ".join(f"{t}({MEAL_TYPE_LABELS[t]})" for t in meal_types)
    system = f"""\
당신은 어르신의 한식 식단을 짜는 영양 도우미입니다.
{_SAFETY_RULES}
- 요청한 끼니마다 메뉴 하나를 씁니다. meal_type은 요청한 값을 그대로 씁니다.
- ingredients에는 들어가는 모든 재료와 양념을 빠짐없이 씁니다.
- 알레르기 식품과 그것으로 만든 재료(예: 대두 -> 두부, 간장, 된장, 고추장; 밀 -> 국수, 빵, 부침가루;
  새우 -> 새우젓)는 메뉴 이름, 재료, 조리 팁 어디에도 쓰지 마세요. 대체 재료로 언급하지도 마세요.
- nutrition은 1인분 추정치입니다.
  kcal은 단백질 4, 탄수화물 4, 지방 9 kcal/g으로 계산한 값과 맞아야 합니다.
- texture는 liquid(유동식), soft(연식), regular(일반식) 중 하나입니다.
- 다음 기준을 지키세요: {limits}"""
    user = f"""\
{day.isoformat()}의 식단을 만들어 주세요. 끼니: {wanted}
{profile.described()}"""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def personality_messages(
    subject: str, scores: Mapping[str, int], age_band_text: str | None
) -> list[dict[str, str]]:
    who = "돌봄을 받는 어르신" if subject == "patient" else "요양보호사 본인"
    system = f"""\
당신은 돌봄 성향 검사 결과를 설명하는 도우미입니다. 점수는 이미 정해진 채점표로 계산되었습니다.
{_SAFETY_RULES}
- 점수를 바꾸거나 새로 매기지 말고, 점수에 맞는 성향 설명과 돌봄에서의 활용 팁을 3~6문장으로 쓰세요.
- 성격을 단정하거나 낙인찍는 표현은 피하세요."""
    lines = [f"- 대상: {who}"]
    if age_band_text:
        lines.append(f"- 연령대: {age_band_text}")
    lines += [f"- {axis.label}({axis.value}): {scores[axis.value]}" for axis in PersonalityAxis]
    user = "다음 검사 결과(각 0~100)를 설명해 주세요.\n" + "\n".join(lines)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def report_messages(figures_text: str) -> list[dict[str, str]]:
    system = f"""\
당신은 보호자에게 돌봄 리포트를 설명하는 도우미입니다.
{_SAFETY_RULES}
- 주어진 수치만 사용하세요. 완료율(%)은 주어진 값 그대로만 쓰고 새 수치를 만들지 마세요.
- summary는 2~5문장, suggestions는 0~5개의 짧은 생활 관리 제안입니다.
- 수치가 걱정되면 '담당 의료진과 상담해 보세요'처럼 권하고, 응급 상황에는 119를 안내하세요."""
    user = f"다음 기간의 돌봄 기록 수치로 리포트 요약과 제안을 써 주세요.\n{figures_text}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
