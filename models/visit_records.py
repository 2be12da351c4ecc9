"""The monthly visit record (급여제공기록지): its JSON shape, the download request and link, and
the acknowledgement. API.md "Visit records"."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from models.common import ApiModel, ResponseModel


class RecordFormat(StrEnum):
    PDF = "pdf"
    JSON = "json"


class DownloadRequest(ApiModel):
    format: RecordFormat = Field(
        default=RecordFormat.PDF, description="`pdf` (printable, Korean) or `json`."
    )


class DownloadLink(ResponseModel):
    url: str = Field(description="A read-only link to the stored file; it expires at expires_at.")
    expires_at: dt.datetime
    format: RecordFormat
    content_sha256: str = Field(description="The record's fingerprint (the same in both files).")


class RecordPatient(ResponseModel):
    patient_id: int
    name: str
    birth_date: dt.date
    care_level: str
    care_level_label: str


class RecordVisit(ResponseModel):
    """One delivered (checked-out) visit: the six elements of an electronic visit record."""

    visit_id: int
    date: dt.date = Field(description="The visit's day in Korea.")
    start: dt.datetime = Field(description="Check-in, server time, in Korean time.")
    end: dt.datetime = Field(description="Check-out, server time, in Korean time.")
    minutes: int
    caregiver_id: int
    caregiver_name: str
    check_in_method: str | None
    check_in_method_label: str | None
    check_out_method: str | None
    check_out_method_label: str | None
    needs_review: bool = Field(description="Recorded by hand (manual evidence), not yet reviewed.")
    reviewed: bool
    corrected: bool = Field(description="Its times were changed by an approved correction.")


class RecordMissedVisit(ResponseModel):
    """A planned visit that was not delivered: missed, or cancelled."""

    visit_id: int
    date: dt.date
    planned_start: dt.datetime
    planned_end: dt.datetime
    caregiver_name: str
    status: str
    status_label: str
    reason: str | None


class RecordActivity(ResponseModel):
    care_log_id: int
    date: dt.date
    category: str
    category_label: str
    task_name: str
    outcome: str | None = Field(description="done / not_done; null: no outcome was recorded.")
    outcome_label: str | None
    reason: str | None


class RecordSection(ResponseModel):
    section: str
    label: str
    categories: list[str]
    activities: list[RecordActivity]


class RecordConditionChange(ResponseModel):
    visit_id: int
    date: dt.date
    area: str
    area_label: str
    note: str


class RecordNote(ResponseModel):
    visit_id: int
    date: dt.date
    summary: str


class RecordMedication(ResponseModel):
    visit_id: int
    date: dt.date
    medication_id: int
    name: str
    dosage: str | None
    outcome: str
    outcome_label: str
    administered_at: dt.datetime | None
    note: str | None


class RecordIncident(ResponseModel):
    incident_id: int
    visit_id: int | None
    occurred_at: dt.datetime
    kind: str
    kind_label: str
    severity: str
    severity_label: str
    description: str
    actions_taken: str | None
    follow_up_status: str
    follow_up_status_label: str


class RecordAcknowledgement(ResponseModel):
    user_id: int
    name: str
    role: str
    role_label: str
    acknowledged_at: dt.datetime


class RecordTotals(ResponseModel):
    visits: int
    minutes: int
    missed: int
    cancelled: int
    medications_given: int
    medications_refused: int
    medications_missed: int
    incidents: int


class VisitRecord(ResponseModel):
    """급여제공기록지: one patient's month of delivered care (Korean months)."""

    title: str = Field(description="급여제공기록지")
    patient: RecordPatient
    month: str = Field(description="YYYY-MM")
    period_start: dt.date
    period_end: dt.date = Field(description="The month's last day.")
    layout: str = Field(description="Which layout of the form's sections this record follows.")
    visits: list[RecordVisit]
    not_delivered: list[RecordMissedVisit]
    sections: list[RecordSection]
    condition_changes: list[RecordConditionChange]
    notes: list[RecordNote]
    medications: list[RecordMedication]
    incidents: list[RecordIncident]
    acknowledgements: list[RecordAcknowledgement]
    totals: RecordTotals
    content_sha256: str = Field(
        description="sha256 of the record's content (everything but generated_at): equal "
        "fingerprints mean the same record."
    )
    generated_at: dt.datetime = Field(description="When the stored files were written.")
