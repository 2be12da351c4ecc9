"""The personality test (API.md "Personality test"): questions, answers, result.

The answers are an object with one field per question id (`q1`..`q12`, each 1..5), so a
missing, unknown or out-of-range answer is a 422 naming exactly that answer. The question
texts and the rubric live in shared.ai.templates.personality; the ids and scale live here so
the request model and the rubric cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from models.common import ApiModel, ResponseModel

QUESTION_SET_VERSION = "pt-2026-11-v1"
QUESTION_IDS: tuple[str, ...] = tuple(f"q{n}" for n in range(1, 13))
ANSWER_LABELS: dict[int, str] = {
    1: "전혀 그렇지 않다",
    2: "그렇지 않다",
    3: "보통이다",
    4: "그렇다",
    5: "매우 그렇다",
}
Subject = Literal["patient", "self"]
Answer = Annotated[int, Field(ge=1, le=5, description="1 (전혀 그렇지 않다) .. 5 (매우 그렇다)")]

_ANSWER_FIELDS: dict[str, Any] = dict.fromkeys(QUESTION_IDS, (Answer, ...))
PersonalityAnswers: type[ApiModel] = create_model(
    "PersonalityAnswers",
    __base__=ApiModel,
    __doc__="One answer (1..5) per question id of the current question set.",
    **_ANSWER_FIELDS,
)


class QuestionsQuery(BaseModel):
    """`?subject=patient|self`: whose personality the questions are about."""

    model_config = ConfigDict(extra="ignore")

    subject: Subject


class QuestionOption(ResponseModel):
    value: int
    label: str


class Question(ResponseModel):
    id: str
    text: str = Field(description="The statement, in Korean.")
    options: list[QuestionOption]


class QuestionSet(ResponseModel):
    version: str
    subject: Subject
    questions: list[Question]


class PersonalityTestIn(ApiModel):
    """`subject` patient (a guardian about its patient: `patient_id` required) or self (a
    caregiver about themselves: no `patient_id`)."""

    subject: Subject
    patient_id: int | None = Field(
        None, ge=1, le=2**63 - 1, validate_default=True, description="Required for patient."
    )
    answers: PersonalityAnswers

    @field_validator("patient_id")
    @classmethod
    def _patient_for_patient_tests(cls, value: int | None, info: ValidationInfo) -> int | None:
        subject = info.data.get("subject")
        if subject == "patient" and value is None:
            raise ValueError("is required when subject is patient")
        if subject == "self" and value is not None:
            raise ValueError("must not be given when subject is self")
        return value

    def answer_values(self) -> dict[str, int]:
        return dict(self.answers.model_dump())


class PersonalityScores(ResponseModel):
    empathy: int = Field(ge=0, le=100)
    activity: int = Field(ge=0, le=100)
    patience: int = Field(ge=0, le=100)
    independence: int = Field(ge=0, le=100)


class PersonalityTestResult(ResponseModel):
    subject: Subject
    patient_id: int | None
    caregiver_id: int | None
    version: str = Field(description="The question set the answers were scored with.")
    scores: PersonalityScores = Field(description="From the fixed rubric, never from AI.")
    analysis: str
    source: Literal["ai", "rules"] = Field(description="Who wrote the analysis text.")
    created_at: datetime
