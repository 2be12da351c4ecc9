"""Schedules, care logs and care reports (API.md "Care plans, meals, schedules and logs").

Ranges and lengths repeat the database's CHECK constraints (task name 1..200, note <= 2000,
vitals ranges), so a bad value is a 422 naming the field, never a constraint error. Dates travel
as `YYYY-MM-DD` and times as `HH:MM` (Korea local time of the care): other spellings that
pydantic or `date.fromisoformat` would also accept (`20260105`, timestamps) are refused.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.common import ApiModel, PageQuery, ResponseModel
from models.dates import korea_today
from models.vocabularies import CareLogCategory, LabeledEnum

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

#: The default window of `GET /api/patients/{id}/schedules` and the longest one allowed.
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 92
#: The longest period of `GET /api/patients/{id}/continuity`.
MAX_CONTINUITY_DAYS = 366


class ScheduleStatus(LabeledEnum):
    DRAFT = "draft", "초안"
    SCHEDULED = "scheduled", "예정"
    COMPLETED = "completed", "완료"
    CANCELLED = "cancelled", "취소"


class Assignee(LabeledEnum):
    CAREGIVER = "caregiver", "요양보호사"
    FAMILY = "family", "가족"


class ReportType(LabeledEnum):
    WEEKLY = "weekly", "주간"
    MONTHLY = "monthly", "월간"


#: The longest period (days, both ends included) each report type may cover.
REPORT_MAX_DAYS: dict[ReportType, int] = {ReportType.WEEKLY: 7, ReportType.MONTHLY: 31}


def parse_iso_date(value: Any) -> date:
    """A `YYYY-MM-DD` string (or a date) as a date; ValueError for anything else."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("is not a calendar date (YYYY-MM-DD)") from None


def _parse_hh_mm(value: Any) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _HH_MM.match(value.strip()):
        raise ValueError("must be a time as HH:MM (24 h)")
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


IsoDate = Annotated[
    date,
    BeforeValidator(parse_iso_date),
    Field(description="A date, YYYY-MM-DD.", examples=["2026-12-01"]),
]
HhMm = Annotated[
    time,
    BeforeValidator(_parse_hh_mm),
    Field(description="Korea local time, HH:MM (24 h).", examples=["08:30"]),
]
TaskName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(max_length=2000)]


# -- schedules -------------------------------------------------------------------------------


class ScheduleCreate(ApiModel):
    """A schedule made directly by the guardian (AI care plans make theirs as drafts)."""

    schedule_date: IsoDate
    status: Literal["scheduled", "completed", "cancelled"] = Field(
        "scheduled", description="`scheduled` (default), `completed` or `cancelled`."
    )


class ScheduleStatusUpdate(ApiModel):
    status: Literal["scheduled", "completed", "cancelled"]


class SchedulesQuery(PageQuery):
    """`?from=&to=` (Korea dates, both included); by default the 7 days from today."""

    model_config = PageQuery.model_config | {"populate_by_name": True}

    from_: IsoDate | None = Field(None, alias="from", description="First day (default: today).")
    to: IsoDate | None = Field(
        None, description=f"Last day, at most {MAX_WINDOW_DAYS} days after `from`."
    )

    @field_validator("to")
    @classmethod
    def _ordered(cls, to: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("from_")
        if to is None or start is None:
            return to
        if to < start:
            raise ValueError("must not be before 'from'")
        if (to - start).days + 1 > MAX_WINDOW_DAYS:
            raise ValueError(f"the range may cover at most {MAX_WINDOW_DAYS} days")
        return to

    @model_validator(mode="after")
    def _default_window(self) -> SchedulesQuery:
        span = timedelta(days=DEFAULT_WINDOW_DAYS - 1)
        if self.from_ is None:
            self.from_ = korea_today() if self.to is None else self.to - span
        if self.to is None:
            self.to = self.from_ + span
        return self


# -- care logs -------------------------------------------------------------------------------


class VitalsIn(ApiModel):
    """Readings taken with a care task; each one optional, each within a plausible range."""

    systolic: int | None = Field(None, ge=50, le=260, description="Systolic pressure, mmHg.")
    diastolic: int | None = Field(None, ge=30, le=160, description="Diastolic pressure, mmHg.")
    pulse: int | None = Field(None, ge=20, le=250, description="Beats per minute.")
    temperature_c: float | None = Field(None, ge=30, le=45, description="Body temperature, °C.")
    blood_sugar: int | None = Field(None, ge=20, le=600, description="Blood glucose, mg/dL.")

    @field_validator("diastolic")
    @classmethod
    def _below_systolic(cls, diastolic: int | None, info: ValidationInfo) -> int | None:
        systolic = info.data.get("systolic")
        if diastolic is not None and systolic is not None and diastolic >= systolic:
            raise ValueError("must be lower than systolic")
        return diastolic

    def readings(self) -> dict[str, float | int] | None:
        """The readings given, for storage; None when there are none."""
        given = self.model_dump(exclude_none=True)
        return given or None


class Vitals(ResponseModel):
    systolic: int | None = None
    diastolic: int | None = None
    pulse: int | None = None
    temperature_c: float | None = None
    blood_sugar: int | None = None


class CareLogCreate(ApiModel):
    category: CareLogCategory
    task_name: TaskName
    scheduled_time: HhMm | None = None
    note: Note | None = None
    assignee: Assignee = Field(Assignee.CAREGIVER, description="Who does it (default caregiver).")


class CareLogUpdate(ApiModel):
    """Complete (or un-complete) a task, with an optional note and readings.

    `note` and `vitals` change only when given; an explicit `null` clears them. `completed_at`
    and `completed_by` are the server's to set and are refused here.
    """

    is_completed: bool
    note: Note | None = None
    vitals: VitalsIn | None = None


class CareLog(ResponseModel):
    care_log_id: int
    schedule_id: int
    category: CareLogCategory
    task_name: str
    scheduled_time: str | None = Field(description="HH:MM, Korea local time, or null.")
    assignee: Assignee
    is_completed: bool
    completed_at: datetime | None
    completed_by: int | None = Field(description="user_id of who completed it.")
    note: str | None
    vitals: Vitals | None


class Schedule(ResponseModel):
    schedule_id: int
    patient_id: int
    schedule_date: date
    status: ScheduleStatus
    care_plan_id: int | None
    care_logs: list[CareLog]


class ScheduleDay(ResponseModel):
    """`GET /api/schedules/{date}`: the caller's schedules on one day."""

    date: dt.date
    items: list[Schedule]


# -- care reports ----------------------------------------------------------------------------


class CareReportCreate(ApiModel):
    report_type: ReportType
    start_date: IsoDate
    end_date: IsoDate = Field(
        description="Last day included; a weekly report covers at most 7 days, a monthly 31."
    )

    @field_validator("end_date")
    @classmethod
    def _period(cls, end: date, info: ValidationInfo) -> date:
        start, kind = info.data.get("start_date"), info.data.get("report_type")
        if start is None:
            return end
        if end < start:
            raise ValueError("must not be before start_date")
        longest = REPORT_MAX_DAYS.get(kind) if kind is not None else None
        if longest is not None and (end - start).days + 1 > longest:
            raise ValueError(f"a {kind} report covers at most {longest} days")
        return end


class VitalStats(ResponseModel):
    min: float
    avg: float
    max: float
    count: int


class Continuity(ResponseModel):
    """Continuity of care over a period, from the patient's completed visits."""

    index: float | None = Field(
        ge=0,
        le=1,
        description="Bice-Boxerman continuity of care index (1: one caregiver made every visit;"
        " 0: each visit a different caregiver); null for fewer than 2 visits.",
    )
    visits: int = Field(ge=0, description="Completed visits in the period.")
    caregivers: int = Field(ge=0, description="Caregivers who made them.")
    most_frequent_share: float | None = Field(
        ge=0, le=1, description="Share of the visits made by the most frequent caregiver."
    )


class PatientContinuity(Continuity):
    patient_id: int
    start_date: date = Field(description="First day of the period (Korea).")
    end_date: date = Field(description="Last day of the period (Korea), included.")


class ContinuityQuery(BaseModel):
    """`?from=&to=` (Korea dates, both included): by default the 90 days up to today."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: IsoDate | None = Field(None, alias="from", description="First day (Korea).")
    to: IsoDate | None = Field(None, description="Last day (Korea), included; default today.")

    @field_validator("to")
    @classmethod
    def _ordered(cls, to: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("from_")
        if to is None or start is None:
            return to
        if to < start:
            raise ValueError("must not be before 'from'")
        if (to - start).days + 1 > MAX_CONTINUITY_DAYS:
            raise ValueError(f"the range may cover at most {MAX_CONTINUITY_DAYS} days")
        return to


class CareReport(ResponseModel):
    report_id: int
    patient_id: int
    report_type: ReportType
    start_date: date
    end_date: date
    medication_completion_rate: float | None = Field(
        description="Percent (0..100, 2 decimals) of medication tasks completed; null if none."
    )
    meal_completion_rate: float | None
    overall_completion_rate: float | None
    completion_by_category: dict[str, float] = Field(
        description="Completion rate per care log category that had tasks in the period."
    )
    vitals: dict[str, VitalStats] = Field(
        description="min/avg/max/count of each reading taken in the period."
    )
    summary: str
    suggestions: list[str]
    source: Literal["ai", "template"]
    created_at: datetime
    continuity: Continuity = Field(
        description="Continuity of care in the period, from its completed visits "
        "(shared.continuity)."
    )


class CareReportQuery(PageQuery):
    pass
