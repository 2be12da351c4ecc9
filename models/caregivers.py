"""Caregivers: the own profile, the public card, availability and personality (API.md "Caregivers").

`CaregiverCard` is the one public shape of a caregiver: the card endpoint, matching results and
offers all show it, so it carries nothing a stranger should not see (no phone, email, address,
birth date or gender).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import Field, StringConstraints, model_validator

from models.common import ApiModel, ResponseModel
from models.vocabularies import REGION_CODE_PATTERN, Certification, Day, Specialty

MAX_EXPERIENCE_YEARS = 70
MAX_HOURLY_RATE = 1_000_000
MAX_BIO_LENGTH = 2000
#: A week of fine-grained slots fits easily; more is a client bug, not a schedule.
MAX_AVAILABILITY_SLOTS = 50

RegionCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=REGION_CODE_PATTERN),
    Field(description="`PROVINCE_DISTRICT` in capitals.", examples=["SEOUL_GANGNAM"]),
]
ClockTime = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description="`HH:MM`, 24 h, Korea local time.", examples=["09:00"]),
]
Axis = Annotated[int, Field(ge=0, le=100, strict=True)]
_Code = TypeVar("_Code")


def _unique(codes: list[_Code]) -> list[_Code]:
    """The codes once each, in the order given: the lists are sets."""
    return list(dict.fromkeys(codes))


class CaregiverProfileIn(ApiModel):
    """The caregiver's own profile (upsert); the certification and specialty sets are replaced."""

    experience_years: int = Field(ge=0, le=MAX_EXPERIENCE_YEARS, strict=True)
    certifications: list[Certification] = Field(max_length=len(Certification))
    specialties: list[Specialty] = Field(max_length=len(Specialty))
    service_region: RegionCode
    has_vehicle: bool = Field(strict=True)
    hourly_rate: int = Field(ge=1, le=MAX_HOURLY_RATE, strict=True, description="KRW per hour.")
    bio: Annotated[str, StringConstraints(max_length=MAX_BIO_LENGTH)] | None = None

    @model_validator(mode="after")
    def _normalise(self) -> CaregiverProfileIn:
        self.certifications = _unique(self.certifications)
        self.specialties = _unique(self.specialties)
        if self.bio == "":
            self.bio = None
        return self


class AvailabilitySlotIn(ApiModel):
    day: Day
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _start_before_end(self) -> AvailabilitySlotIn:
        # Zero-padded HH:MM strings order like the times they name.
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class AvailabilityIn(ApiModel):
    """The whole weekly availability; it replaces the previous one (an empty list clears it)."""

    slots: list[AvailabilitySlotIn] = Field(max_length=MAX_AVAILABILITY_SLOTS)


class CaregiverPersonalityIn(ApiModel):
    empathy: Axis
    activity: Axis
    patience: Axis
    independence: Axis


class AvailabilitySlot(ResponseModel):
    day: Day
    start: str = Field(description="`HH:MM`.")
    end: str = Field(description="`HH:MM`.")


class Availability(ResponseModel):
    slots: list[AvailabilitySlot]


class CaregiverPersonality(ResponseModel):
    empathy: int
    activity: int
    patience: int
    independence: int
    source: str = Field(description="`manual`, `test` or `import`.")
    updated_at: datetime


class CaregiverCard(ResponseModel):
    """What any signed-in user may see of a caregiver."""

    caregiver_id: int
    name: str
    experience_years: int
    certifications: list[Certification]
    specialties: list[Specialty]
    service_region: str
    has_vehicle: bool
    hourly_rate: int = Field(description="KRW per hour.")
    avg_rating: float = Field(description="0..5; 0 while there are no reviews.")
    total_reviews: int
    bio: str | None


class CaregiverProfile(CaregiverCard):
    """The caregiver's own, whole profile: the card plus labels, availability and personality."""

    certification_labels: dict[str, str] = Field(description="Code -> Korean label.")
    specialty_labels: dict[str, str] = Field(description="Code -> Korean label.")
    availability: list[AvailabilitySlot]
    personality: CaregiverPersonality | None
    created_at: datetime
    updated_at: datetime
