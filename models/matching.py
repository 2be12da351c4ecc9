"""Matching: what a guardian asks for, the ranked caregivers, offers and the lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from models.caregivers import CaregiverCard
from models.common import ApiModel, PageQuery, ResponseModel
from models.vocabularies import (
    CareLevel,
    CareType,
    Day,
    Gender,
    GenderPreference,
    MatchingStatus,
    MobilityStatus,
    Specialty,
)

#: The hard filters in API.md's order: a caregiver is counted under the first it fails.
FILTER_ORDER = (
    "certification",
    "region",
    "availability",
    "gender",
    "experience",
    "specialties",
    "budget",
    "booked",
)


def _hhmm(value: str) -> str:
    hours, _, minutes = value.partition(":")
    if not (len(value) == 5 and hours.isdigit() and minutes.isdigit()):
        raise ValueError("a time must look like HH:MM (24 h)")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError("a time must be between 00:00 and 23:59")
    return value


ClockTime = Annotated[str, AfterValidator(_hhmm), Field(examples=["09:00"])]


class TimeSlot(ApiModel):
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> TimeSlot:
        if self.end <= self.start:
            raise ValueError("end must be later than start")
        return self


class MatchingRequestIn(ApiModel):
    care_type: CareType
    days: list[Day] = Field(min_length=1, max_length=7)
    time_slots: list[TimeSlot] = Field(min_length=1, max_length=6)
    start_date: date
    end_date: date | None = None
    gender_preference: GenderPreference = GenderPreference.ANY
    min_experience_years: int = Field(0, ge=0, le=70)
    required_specialties: list[Specialty] = Field(default_factory=list, max_length=15)
    max_hourly_rate: int | None = Field(None, ge=1, le=1_000_000)
    top_k: int = Field(5, ge=1, le=20)

    @field_validator("days", "required_specialties")
    @classmethod
    def _no_repeats(cls, values: list[Any]) -> list[Any]:
        if len(set(values)) != len(values):
            raise ValueError("values must not repeat")
        return values

    @field_validator("time_slots")
    @classmethod
    def _no_overlap(cls, slots: list[TimeSlot]) -> list[TimeSlot]:
        ordered = sorted(slots, key=lambda s: s.start)
        for before, after in pairwise(ordered):
            if after.start < before.end:
                raise ValueError("time slots must not overlap")
        return slots

    @model_validator(mode="after")
    def _dates(self) -> MatchingRequestIn:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class ModelInfo(ResponseModel):
    kind: str = Field(description="`xgboost` or `rules`.")
    version: str


class Match(ResponseModel):
    matching_id: int
    request_id: int
    caregiver: CaregiverCard
    score: float
    grade: str
    reasons: list[str]
    status: MatchingStatus


class MatchingResponse(ResponseModel):
    request_id: int
    patient_id: int
    model: ModelInfo
    candidates_considered: int
    excluded: dict[str, int] = Field(description="Caregivers removed, by the first filter failed.")
    results: list[Match]


class MatchingResultsQuery(PageQuery):
    status: MatchingStatus | None = None


class MatchTransition(ResponseModel):
    matching_id: int
    request_id: int
    patient_id: int
    caregiver_id: int
    status: MatchingStatus
    contract_start_date: date | None
    contract_end_date: date | None
    status_changed_at: datetime


class PatientSummary(ResponseModel):
    """What a caregiver sees of a patient before the matching is active: no identity."""

    age: int
    gender: Gender
    care_level: CareLevel
    conditions: list[str]
    mobility_status: MobilityStatus
    region_code: str


class Offer(ResponseModel):
    matching_id: int
    request_id: int
    days: list[Day]
    time_slots: list[TimeSlot]
    start_date: date
    end_date: date | None
    patient: PatientSummary


class OfferList(ResponseModel):
    items: list[Offer]
