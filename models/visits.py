"""Visits: planning, check-in and check-out with evidence, cancellation, review, the home's NFC
tags and location (API.md "Visits").

Every length and range repeats the database's CHECK (migration 0011), so a bad value is a 422
naming the field before any SQL runs. Times travel as ISO 8601 with an offset (`...+09:00` or
`...Z`); a time without one is refused, since a phone's clock zone is not the server's guess.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.care import IsoDate
from models.common import BIGINT_MAX, ApiModel, PageQuery, ResponseModel
from models.vocabularies import EvidenceMethod, VisitPhase, VisitStatus

#: The longest a planned (or recorded) visit may last.
MAX_VISIT_HOURS = 24
#: The longest window of `GET /api/patients/{id}/visits?from=&to=`.
MAX_WINDOW_DAYS = 92
TAG_UID_PATTERN = r"^[0-9A-Za-z:_-]{4,128}$"


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 date-time with an offset (or an aware datetime); ValueError otherwise."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and "T" in value.strip().upper():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time with an offset") from None
    else:
        raise ValueError("must be an ISO 8601 date-time with an offset")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("must carry a UTC offset (e.g. +09:00 or Z)")
    if not 2000 <= parsed.year <= 2100:
        raise ValueError("must be a time between the years 2000 and 2100")
    return parsed


Instant = Annotated[
    datetime,
    BeforeValidator(parse_instant),
    Field(description="ISO 8601 with an offset.", examples=["2026-12-07T10:00:00+09:00"]),
]
Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
TagUid = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=TAG_UID_PATTERN),
    Field(description="The NFC tag's uid as the phone reads it (4-128 of 0-9 A-Z a-z : _ -).",
          examples=["04:A2:19:7B:33:5C:80"]),
]  # fmt: skip
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
ConditionNote = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


# -- planning and reading --------------------------------------------------------------------


class VisitPlan(ApiModel):
    """A visit of a schedule: when the caregiver is expected, and which matching serves it."""

    schedule_id: Id
    planned_start: Instant
    planned_end: Instant
    matching_id: Id | None = Field(
        None, description="The active matching that serves it (default: the patient's only one)."
    )

    @field_validator("planned_end")
    @classmethod
    def _ordered(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("planned_start")
        if start is None:
            return end
        if end <= start:
            raise ValueError("must be after planned_start")
        if end - start > timedelta(hours=MAX_VISIT_HOURS):
            raise ValueError(f"a visit lasts at most {MAX_VISIT_HOURS} hours")
        return end


class VisitsQuery(PageQuery):
    """`?from=&to=` (Korea dates of planned_start, both included), `?status=`, paging."""

    model_config = PageQuery.model_config | {"populate_by_name": True}

    from_: IsoDate | None = Field(None, alias="from", description="First day (Korea).")
    to: IsoDate | None = Field(None, description="Last day (Korea), included.")
    status: VisitStatus | None = None

    @model_validator(mode="after")
    def _window(self) -> VisitsQuery:
        if self.from_ is not None and self.to is not None:
            if self.to < self.from_:
                raise ValueError("'to' must not be before 'from'")
            if (self.to - self.from_).days + 1 > MAX_WINDOW_DAYS:
                raise ValueError(f"the range may cover at most {MAX_WINDOW_DAYS} days")
        return self


class AdminVisitsQuery(PageQuery):
    """`?needs_review=true`: visits recorded without evidence and not yet reviewed."""

    needs_review: bool | None = Field(
        None, description="true: flagged and not yet reviewed; false: not flagged or reviewed."
    )
    status: VisitStatus | None = None


class EvidenceOut(ResponseModel):
    """How one phase (check-in or check-out) was shown to happen in the patient's home."""

    phase: VisitPhase
    phase_label: str = Field(description="방문 시작 or 방문 종료.")
    method: EvidenceMethod
    method_label: str = Field(description="NFC 태그, GPS 위치 or 수기 기록.")
    recorded_at: datetime = Field(description="The server's time: the record.")
    device_time: datetime | None = Field(description="The phone's clock when it was recorded.")
    tag_id: int | None = None
    tag_label: str | None = None
    tag_uid: str | None = Field(
        None,
        description="The tag's uid: shown to the guardian and operators only (null for "
        "caregivers, so a registered uid cannot be copied onto another tag).",
    )
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    distance_m: float | None = Field(None, description="Metres from the home (GPS).")
    reason: str | None = Field(None, description="Why it was recorded by hand (manual).")


class ConditionNotes(ResponseModel):
    """Changes of condition seen during the visit (급여제공기록지: 신체, 식사, 인지, 배설)."""

    physical: str | None = None
    meal: str | None = None
    cognitive: str | None = None
    toileting: str | None = None


class Visit(ResponseModel):
    visit_id: int
    patient_id: int
    schedule_id: int
    matching_id: int
    caregiver_id: int
    caregiver_name: str | None
    planned_start: datetime
    planned_end: datetime
    status: VisitStatus
    status_label: str = Field(description="e.g. 방문 예정, 방문 중, 방문 완료.")
    check_in_at: datetime | None = Field(description="The server's time of the check-in.")
    check_out_at: datetime | None = Field(description="The server's time of the check-out.")
    late_at: datetime | None
    missed_at: datetime | None
    needs_review: bool = Field(description="Recorded without evidence (manual): for operators.")
    reviewed_by: int | None
    reviewed_at: datetime | None
    summary: str | None
    condition_notes: ConditionNotes
    locked_at: datetime | None = Field(description="Set at check-out; then only corrections.")
    cancelled_at: datetime | None
    cancelled_by: int | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    evidence: list[EvidenceOut]


# -- check-in and check-out ------------------------------------------------------------------

#: The fields each method takes; the others must be absent.
METHOD_FIELDS: dict[EvidenceMethod, tuple[str, ...]] = {
    EvidenceMethod.NFC_TAG: ("tag_uid",),
    EvidenceMethod.GPS: ("latitude", "longitude", "accuracy_m"),
    EvidenceMethod.MANUAL: ("reason",),
}
_EVIDENCE_FIELDS = ("tag_uid", "latitude", "longitude", "accuracy_m", "reason")


class CheckIn(ApiModel):
    """Evidence of presence: an NFC tag of the home, a GPS fix near it, or a reason (manual)."""

    method: EvidenceMethod
    device_time: Instant | None = Field(
        None, description="The phone's clock when the caregiver tapped (kept beside the server's)."
    )
    tag_uid: TagUid | None = Field(None, validate_default=True)
    latitude: float | None = Field(None, ge=-90, le=90, validate_default=True)
    longitude: float | None = Field(None, ge=-180, le=180, validate_default=True)
    accuracy_m: float | None = Field(
        None, ge=0, le=100_000, validate_default=True, description="Metres (GPS)."
    )
    reason: Reason | None = Field(
        None, validate_default=True, description="Why there is no tag or GPS (manual)."
    )

    @field_validator(*_EVIDENCE_FIELDS)
    @classmethod
    def _fields_of_method(cls, value: Any, info: ValidationInfo) -> Any:
        method = info.data.get("method")
        if method is None:  # the method itself was refused
            return value
        wanted = info.field_name in METHOD_FIELDS[method]
        if wanted and value is None:
            raise ValueError(f"is required with method {method}")
        if not wanted and value is not None:
            raise ValueError(f"is not used with method {method}")
        return value


class ConditionNotesIn(ApiModel):
    physical: ConditionNote | None = Field(None, description="신체")
    meal: ConditionNote | None = Field(None, description="식사")
    cognitive: ConditionNote | None = Field(None, description="인지")
    toileting: ConditionNote | None = Field(None, description="배설")

    def given(self) -> dict[str, str]:
        """The areas with a note, for storage."""
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if v}


class CheckOut(CheckIn):
    """Check-in's evidence, plus the visit's summary and changes of condition."""

    summary: str | None = Field(None, max_length=2000, description="What was done (to family).")
    condition_notes: ConditionNotesIn | None = None


class VisitCancel(ApiModel):
    reason: Reason


class VisitReview(ApiModel):
    note: Reason | None = Field(None, description="What the operator checked.")


# -- the home --------------------------------------------------------------------------------


class HomeTagCreate(ApiModel):
    tag_uid: TagUid
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = Field(
        None, description="Where the tag is, e.g. 현관."
    )


class HomeTag(ResponseModel):
    tag_id: int
    patient_id: int
    tag_uid: str
    label: str | None
    active: bool
    registered_by: int | None
    created_at: datetime
    updated_at: datetime


class HomeTagsQuery(PageQuery):
    active: bool | None = Field(None, description="Only active (true) or deactivated (false).")


class HomeLocation(ApiModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class HomeLocationOut(ResponseModel):
    patient_id: int
    latitude: float
    longitude: float
