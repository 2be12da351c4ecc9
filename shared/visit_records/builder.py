"""Build a month's visit record (급여제공기록지) from its rows: pure, no database, no Blob.

`build(rows)` returns the record's content (everything but `generated_at`) and its fingerprint,
sha256 over the canonical JSON of that content: the service compares it with the stored files'
to decide whether they are stale.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from models.dates import KOREA
from models.visit_records import (
    RecordAcknowledgement,
    RecordActivity,
    RecordConditionChange,
    RecordIncident,
    RecordMedication,
    RecordMissedVisit,
    RecordNote,
    RecordPatient,
    RecordSection,
    RecordTotals,
    RecordVisit,
)
from models.vocabularies import (
    CareLevel,
    CareLogCategory,
    ConditionArea,
    EvidenceMethod,
    FollowUpStatus,
    IncidentKind,
    IncidentSeverity,
    MedicationOutcome,
    Role,
    TaskOutcome,
    VisitStatus,
)
from shared.visit_records import repository as repo
from shared.visit_records.sections import layout_for, section_of

TITLE = "급여제공기록지"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Month:
    """A Korean calendar month: its first day and the instants it starts and ends."""

    first_day: date

    @classmethod
    def parse(cls, text: str) -> Month:
        """`YYYY-MM`; ValueError otherwise."""
        match = _MONTH.fullmatch(text)
        if not match:
            raise ValueError("a month is YYYY-MM, e.g. 2026-11")
        return cls(date(int(match[1]), int(match[2]), 1))

    @classmethod
    def containing(cls, instant: datetime) -> Month:
        day = instant.astimezone(KOREA).date()
        return cls(day.replace(day=1))

    def previous(self) -> Month:
        return Month((self.first_day - timedelta(days=1)).replace(day=1))

    def next(self) -> Month:
        return Month((self.first_day + timedelta(days=32)).replace(day=1))

    @property
    def text(self) -> str:
        return f"{self.first_day:%Y-%m}"

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), tzinfo=KOREA)

    @property
    def end(self) -> datetime:
        return self.next().start


@dataclass(frozen=True)
class MonthRows:
    """Everything a month's record is made of, as the repository read it."""

    month: Month
    patient: repo.PatientRow
    visits: list[repo.VisitRow]
    activities: list[repo.ActivityRow]
    medications: list[repo.MedicationRow]
    incidents: list[repo.IncidentRow]
    acknowledgements: list[repo.AcknowledgementRow]


def _local(instant: datetime) -> datetime:
    return instant.astimezone(KOREA)


def _label(enum: Any, code: str | None) -> str | None:
    return None if code is None else enum(code).label


def build(rows: MonthRows) -> dict[str, Any]:
    """The record's content as JSON-ready values, with `content_sha256` (no `generated_at`)."""
    layout = layout_for(rows.month.first_day)
    delivered = [v for v in rows.visits if v["status"] == VisitStatus.COMPLETED]
    visits = [_visit(v) for v in delivered]
    not_delivered = [
        _not_delivered(v)
        for v in rows.visits
        if v["status"] in (VisitStatus.MISSED, VisitStatus.CANCELLED)
    ]
    sections = [
        RecordSection(
            section=section.code,
            label=section.label,
            categories=[c.value for c in section.categories],
            activities=[
                _activity(a)
                for a in rows.activities
                if section_of(layout, a["category"]) is section
            ],
        )
        for section in layout.sections
    ]
    conditions = [
        RecordConditionChange(
            visit_id=v["visit_id"],
            date=_local(v["planned_start"]).date(),
            area=area.value,
            area_label=area.label,
            note=v["condition_notes"][area.value],
        )
        for v in delivered
        for area in ConditionArea
        if (v["condition_notes"] or {}).get(area.value)
    ]
    notes = [
        RecordNote(visit_id=v["visit_id"], date=_local(v["planned_start"]).date(), summary=s)
        for v in delivered
        if (s := (v["summary"] or "").strip())
    ]
    medications = [_medication(m) for m in rows.medications]
    incidents = [_incident(i) for i in rows.incidents]
    outcomes = [m.outcome for m in medications]
    totals = RecordTotals(
        visits=len(visits),
        minutes=sum(v.minutes for v in visits),
        missed=sum(1 for v in not_delivered if v.status == VisitStatus.MISSED),
        cancelled=sum(1 for v in not_delivered if v.status == VisitStatus.CANCELLED),
        medications_given=outcomes.count(MedicationOutcome.GIVEN),
        medications_refused=outcomes.count(MedicationOutcome.REFUSED),
        medications_missed=outcomes.count(MedicationOutcome.MISSED),
        incidents=len(incidents),
    )
    patient = rows.patient
    content: dict[str, Any] = {
        "title": TITLE,
        "patient": RecordPatient(
            patient_id=patient["patient_id"],
            name=patient["name"],
            birth_date=patient["birth_date"],
            care_level=patient["care_level"],
            care_level_label=CareLevel(patient["care_level"]).label,
        ).model_dump(mode="json"),
        "month": rows.month.text,
        "period_start": rows.month.first_day.isoformat(),
        "period_end": rows.month.last_day.isoformat(),
        "layout": layout.name,
        "visits": _dump(visits),
        "not_delivered": _dump(not_delivered),
        "sections": _dump(sections),
        "condition_changes": _dump(conditions),
        "notes": _dump(notes),
        "medications": _dump(medications),
        "incidents": _dump(incidents),
        "acknowledgements": _dump([_acknowledgement(a) for a in rows.acknowledgements]),
        "totals": totals.model_dump(mode="json"),
    }
    content["content_sha256"] = fingerprint(content)
    return content


def fingerprint(content: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the content (without its fingerprint and generation time)."""
    body = {k: v for k, v in content.items() if k not in ("content_sha256", "generated_at")}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _dump(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


def _visit(v: repo.VisitRow) -> RecordVisit:
    start, end = v["check_in_at"], v["check_out_at"]
    # A completed visit has both times (visits_status_times).
    assert start is not None
    assert end is not None
    return RecordVisit(
        visit_id=v["visit_id"],
        date=_local(start).date(),
        start=_local(start),
        end=_local(end),
        minutes=int((end - start).total_seconds() // 60),
        caregiver_id=v["caregiver_id"],
        caregiver_name=v["caregiver_name"],
        check_in_method=v["check_in_method"],
        check_in_method_label=_label(EvidenceMethod, v["check_in_method"]),
        check_out_method=v["check_out_method"],
        check_out_method_label=_label(EvidenceMethod, v["check_out_method"]),
        needs_review=v["needs_review"] and v["reviewed_at"] is None,
        reviewed=v["reviewed_at"] is not None,
        corrected=v["corrected"],
    )


def _not_delivered(v: repo.VisitRow) -> RecordMissedVisit:
    status = VisitStatus(v["status"])
    return RecordMissedVisit(
        visit_id=v["visit_id"],
        date=_local(v["planned_start"]).date(),
        planned_start=_local(v["planned_start"]),
        planned_end=_local(v["planned_end"]),
        caregiver_name=v["caregiver_name"],
        status=status.value,
        status_label=status.label,
        reason=v["cancel_reason"],
    )


def _activity(a: repo.ActivityRow) -> RecordActivity:
    # A completed care log counts as done (shared.visits.checklist), recorded at a visit or not.
    outcome = a["outcome"] or (TaskOutcome.DONE.value if a["is_completed"] else None)
    if a["is_completed"] and outcome == TaskOutcome.NOT_DONE:
        outcome = TaskOutcome.DONE.value
    return RecordActivity(
        care_log_id=a["care_log_id"],
        date=a["schedule_date"],
        category=a["category"],
        category_label=CareLogCategory(a["category"]).label,
        task_name=a["task_name"],
        outcome=outcome,
        outcome_label=_label(TaskOutcome, outcome),
        reason=a["reason"] if outcome == TaskOutcome.NOT_DONE else None,
    )


def _medication(m: repo.MedicationRow) -> RecordMedication:
    outcome = MedicationOutcome(m["outcome"])
    return RecordMedication(
        visit_id=m["visit_id"],
        date=_local(m["planned_start"]).date(),
        medication_id=m["medication_id"],
        name=m["name"],
        dosage=m["dosage"],
        outcome=outcome.value,
        outcome_label=outcome.label,
        administered_at=_local(m["administered_at"]) if m["administered_at"] else None,
        note=m["note"],
    )


def _incident(i: repo.IncidentRow) -> RecordIncident:
    return RecordIncident(
        incident_id=i["incident_id"],
        visit_id=i["visit_id"],
        occurred_at=_local(i["occurred_at"]),
        kind=i["kind"],
        kind_label=IncidentKind(i["kind"]).label,
        severity=i["severity"],
        severity_label=IncidentSeverity(i["severity"]).label,
        description=i["description"],
        actions_taken=i["actions_taken"],
        follow_up_status=i["follow_up_status"],
        follow_up_status_label=FollowUpStatus(i["follow_up_status"]).label,
    )


def _acknowledgement(a: repo.AcknowledgementRow) -> RecordAcknowledgement:
    role = Role(a["role"])
    return RecordAcknowledgement(
        user_id=a["user_id"],
        name=a["name"],
        role=role.value,
        role_label=role.label,
        acknowledged_at=_local(a["acknowledged_at"]),
    )
