"""What happens within a visit: the task checklist, the medication administration record (MAR)
and corrections of a visit's times (API.md "Visit checklists, medications and corrections").

Lengths repeat migration 0011's CHECKs (reasons and notes <= 500 characters, a `not_done` task's
reason and an `other` correction's text at least 2), so a bad value is a 422 naming the field.
Times are ISO 8601 with an offset (`models.visits.Instant`).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from models.care import IsoDate, Vitals, VitalsIn
from models.common import ApiModel, PageQuery, ResponseModel
from models.dates import korea_today
from models.visits import Instant, Reason
from models.vocabularies import (
    CareLogCategory,
    CorrectionReason,
    CorrectionStatus,
    MedicationOutcome,
    TaskOutcome,
)

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]

#: The longest window of `GET /api/patients/{id}/medication-administrations?from=&to=`.
MAX_MAR_WINDOW_DAYS = 92


# -- the checklist ---------------------------------------------------------------------------


class TaskRecord(ApiModel):
    """One task's outcome at this visit: done (with readings for a vital check) or not done."""

    outcome: TaskOutcome
    reason: Reason | None = Field(
        None, validate_default=True, description="Why not (required for not_done, 2-500)."
    )
    vitals: VitalsIn | None = Field(
        None,
        validate_default=True,
        description="Readings of a vital_check task that was done (today's ranges).",
    )

    @field_validator("reason")
    @classmethod
    def _reason_for_not_done(cls, reason: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("outcome") == TaskOutcome.NOT_DONE and reason is None:
            raise ValueError("is required when the task was not done")
        return reason

    @field_validator("vitals")
    @classmethod
    def _vitals_when_done(cls, vitals: VitalsIn | None, info: ValidationInfo) -> VitalsIn | None:
        if vitals is not None and info.data.get("outcome") == TaskOutcome.NOT_DONE:
            raise ValueError("are recorded only for a task that was done")
        return vitals


class VisitTask(ResponseModel):
    care_log_id: int
    category: CareLogCategory
    category_label: str = Field(description="The category's Korean label, e.g. 활력징후.")
    task_name: str
    scheduled_time: str | None = Field(description="HH:MM, Korea local time, or null.")
    outcome: TaskOutcome | None = Field(
        description="This visit's outcome; `done` too when the care log is completed; "
        "null: still open (check-out waits for it)."
    )
    recorded_via: Literal["checklist", "care_log"] | None = Field(
        description="checklist: recorded here; care_log: the care log was completed "
        "(PATCH /api/care-logs/{id}, or at another visit of the same schedule)."
    )
    reason: str | None
    recorded_by: int | None
    recorded_at: datetime | None
    is_completed: bool = Field(description="The care log's completion, kept in step.")
    vitals: Vitals | None


class VisitTasks(ResponseModel):
    visit_id: int
    schedule_id: int
    items: list[VisitTask]
    missing: int = Field(description="Required tasks still without an outcome (0: check-out ok).")


# -- medications -----------------------------------------------------------------------------


class AdministrationRecord(ApiModel):
    """One medication's outcome at this visit."""

    outcome: MedicationOutcome
    administered_at: Instant | None = Field(
        None,
        validate_default=True,
        description="When it was given (required for given; within the visit).",
    )
    note: Note | None = None

    @field_validator("administered_at")
    @classmethod
    def _time_when_given(cls, at: datetime | None, info: ValidationInfo) -> datetime | None:
        if info.data.get("outcome") == MedicationOutcome.GIVEN and at is None:
            raise ValueError("is required when the dose was given")
        return at


class VisitMedication(ResponseModel):
    """A medication of the patient and its outcome at this visit (null: none yet)."""

    medication_id: int
    name: str
    dosage: str | None
    frequency: str | None
    intake_method: str | None
    administration_id: int | None
    outcome: MedicationOutcome | None
    outcome_label: str | None = Field(description="Korean label, e.g. 투약 완료.")
    administered_at: datetime | None
    note: str | None
    recorded_by: int | None
    updated_at: datetime | None


class VisitMedications(ResponseModel):
    visit_id: int
    items: list[VisitMedication]


class MedicationAdministration(ResponseModel):
    administration_id: int
    visit_id: int
    patient_id: int
    medication_id: int
    medication_name: str
    outcome: MedicationOutcome
    outcome_label: str
    administered_at: datetime | None
    note: str | None
    recorded_by: int | None
    visit_planned_start: datetime
    created_at: datetime
    updated_at: datetime


class AdministrationsQuery(PageQuery):
    """`?from=&to=` (Korea dates of the visits' planned start, both included; default: this
    month), paging."""

    model_config = PageQuery.model_config | {"populate_by_name": True}

    from_: IsoDate | None = Field(None, alias="from", description="First day (default: the 1st).")
    to: IsoDate | None = Field(None, description="Last day, included (default: the month's end).")

    @model_validator(mode="after")
    def _window(self) -> AdministrationsQuery:
        today = korea_today()
        if self.from_ is None:
            anchor = self.to or today
            self.from_ = anchor.replace(day=1)
        if self.to is None:
            self.to = _month_end(self.from_)
        if self.to < self.from_:
            raise ValueError("'to' must not be before 'from'")
        if (self.to - self.from_).days + 1 > MAX_MAR_WINDOW_DAYS:
            raise ValueError(f"the range may cover at most {MAX_MAR_WINDOW_DAYS} days")
        return self


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


# -- corrections -----------------------------------------------------------------------------


class CorrectionCreate(ApiModel):
    """The caregiver's proposal: the times as they should have been recorded, and why."""

    reason_code: CorrectionReason
    reason_text: Reason | None = Field(
        None, validate_default=True, description="What happened (required for other, 2-500)."
    )
    check_in_at: Instant | None = Field(None, description="The check-in time to record.")
    check_out_at: Instant | None = Field(
        None, validate_default=True, description="The check-out time to record."
    )

    @field_validator("reason_text")
    @classmethod
    def _text_for_other(cls, text: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("reason_code") == CorrectionReason.OTHER and text is None:
            raise ValueError("is required with reason_code other")
        return text

    @field_validator("check_out_at")
    @classmethod
    def _changes_something(cls, out: datetime | None, info: ValidationInfo) -> datetime | None:
        check_in = info.data.get("check_in_at")
        if out is None and check_in is None:
            raise ValueError("propose check_in_at, check_out_at or both")
        if out is not None and check_in is not None and out <= check_in:
            raise ValueError("must be after check_in_at")
        return out


class CorrectionDecision(ApiModel):
    note: Note | None = Field(None, description="Why it was approved or rejected.")


class Correction(ResponseModel):
    correction_id: int
    visit_id: int
    patient_id: int
    proposed_by: int | None
    reason_code: CorrectionReason
    reason_label: str = Field(description="Korean label, e.g. 종료 태그 누락.")
    reason_text: str | None
    proposed_check_in_at: datetime | None
    proposed_check_out_at: datetime | None
    previous_check_in_at: datetime | None = Field(
        description="The visit's check-in before the approval (set when approved)."
    )
    previous_check_out_at: datetime | None
    status: CorrectionStatus
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime
    updated_at: datetime


class CorrectionsQuery(PageQuery):
    status: CorrectionStatus | None = None
