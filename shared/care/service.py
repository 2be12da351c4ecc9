"""Schedules, care logs and care reports: the rules of API.md "Care plans, meals, schedules
and logs" (AI care plans and meal plans aside).

Who may do what (shared.auth.authorization's table, plus the task rules here):
- read schedules, logs and reports (READ_CARE): the owning guardian, the caregiver of an active
  matching, operators (per patient). `GET /api/schedules/{date}` is the caller's own day, so it
  is for guardians (own patients) and caregivers (actively matched patients) only: operators get
  403 there (they read a patient's schedules through the per-patient list instead).
- create a schedule or change its status (MANAGE): the owning guardian only. A caregiver records
  the work through care logs; the guardian decides that a day is completed or cancelled.
- add a care log (WRITE_CARE_LOG): the owning guardian or the active caregiver.
- complete or edit a care log (WRITE_CARE_LOG, then by assignee): the active caregiver may
  complete any task of the patient; the owning guardian only `family` tasks (403 for a
  `caregiver` task). `completed_at`/`completed_by` are the server's: the first completion's
  time and author stay until the task is un-completed, which clears both.

Day rules: a patient has at most one `scheduled` or `completed` schedule a day (409 otherwise);
drafts belong to an unconfirmed care plan and change only through it (409 here); a cancelled
day takes no new or changed care logs (409).

Every read or change writes audit events in the same transaction as the work.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg2.errors

from models.care import (
    CareLog,
    CareLogCreate,
    CareLogUpdate,
    CareReport,
    CareReportCreate,
    CareReportQuery,
    Schedule,
    ScheduleCreate,
    ScheduleDay,
    SchedulesQuery,
    ScheduleStatusUpdate,
    parse_iso_date,
)
from models.common import Page
from models.vocabularies import Role
from shared import audit
from shared.ai import report_summary
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, authorize_patient, require_role
from shared.auth.principal import Actor
from shared.care import report_text
from shared.care import repository as repo
from shared.db import Database
from shared.errors import ConflictError, FieldError, ForbiddenError, ValidationFailedError
from shared.patients import repository as patients_repo


def parse_path_date(value: str) -> date:
    """The `{date}` path segment as a date; 422 naming ["path", "date"] otherwise."""
    try:
        return parse_iso_date(value)
    except ValueError as exc:
        raise ValidationFailedError([FieldError(loc=("path", "date"), msg=str(exc))]) from None


# -- schedules -------------------------------------------------------------------------------


def schedules_on(db: Database, actor: Actor, day: date) -> ScheduleDay:
    """The caller's schedules on `day`, with their care logs (guardians and caregivers)."""
    principal = actor.principal
    require_role(principal, Role.GUARDIAN, Role.CAREGIVER)
    with db.transaction() as cur:
        if principal.role == Role.GUARDIAN:
            rows = repo.guardian_schedules_on(cur, principal.user_id, day)
        else:
            rows = repo.caregiver_schedules_on(cur, principal.user_id, day)
        schedules = load_schedules(cur, rows)
        audit.record_many(
            cur,
            actor,
            AuditAction.VIEW,
            "schedule",
            [(s.patient_id, s.schedule_id) for s in schedules],
            detail={"date": day.isoformat()},
        )
    return ScheduleDay(date=day, items=schedules)


def patient_schedules(
    db: Database, actor: Actor, patient_id: int, query: SchedulesQuery
) -> Page[Schedule]:
    """One patient's schedules between `from` and `to`, with their care logs."""
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.READ_CARE)
        rows, total = repo.patient_schedules(
            cur, patient_id, query.from_, query.to, limit=query.limit, offset=query.offset
        )
        schedules = load_schedules(cur, rows)
        targets = [(patient_id, s.schedule_id) for s in schedules] or [(patient_id, None)]
        audit.record_many(
            cur,
            actor,
            AuditAction.VIEW,
            "schedule",
            targets,
            detail={"from": query.from_.isoformat(), "to": query.to.isoformat()},
        )
    return Page[Schedule](items=schedules, total=total)


def create_schedule(db: Database, actor: Actor, patient_id: int, body: ScheduleCreate) -> Schedule:
    """A schedule made by the owning guardian; 409 if the day already has one in force."""
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        if body.status != "cancelled":
            patients_repo.lock_patient(cur, patient_id, profile_changed=False)
            _ensure_day_is_free(cur, patient_id, body.schedule_date)
        schedule_id = repo.insert_schedule(cur, patient_id, body.schedule_date, body.status)
        audit.record(
            cur,
            actor,
            AuditAction.CREATE,
            patient_id=patient_id,
            resource_type="schedule",
            resource_id=schedule_id,
        )
        return _schedule(cur, schedule_id)


def update_schedule_status(
    db: Database, actor: Actor, schedule_id: int, body: ScheduleStatusUpdate
) -> Schedule:
    """Set a schedule's status (owning guardian); drafts change only through their care plan."""
    with db.transaction() as cur:
        patient_id = repo.schedule_patient_id(cur, schedule_id)
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        patients_repo.lock_patient(cur, patient_id, profile_changed=False)
        current = repo.get_schedule(cur, schedule_id, for_update=True)
        if current["status"] == "draft":
            raise ConflictError(
                "This schedule is a draft of a care plan; confirm the care plan instead."
            )
        if body.status != "cancelled":
            _ensure_day_is_free(cur, patient_id, current["schedule_date"], excluding=schedule_id)
        if body.status != current["status"]:
            repo.update_schedule_status(cur, schedule_id, body.status)
        audit.record(
            cur,
            actor,
            AuditAction.UPDATE,
            patient_id=patient_id,
            resource_type="schedule",
            resource_id=schedule_id,
            detail={"status": body.status},
        )
        return _schedule(cur, schedule_id)


def load_schedules(cur: Any, rows: list[dict[str, Any]]) -> list[Schedule]:
    """Schedule rows with their care logs, loaded in one query for all of them."""
    logs: dict[int, list[CareLog]] = defaultdict(list)
    for log in repo.care_logs_of(cur, [row["schedule_id"] for row in rows]):
        logs[log["schedule_id"]].append(CareLog.model_validate(log))
    return [Schedule.model_validate({**row, "care_logs": logs[row["schedule_id"]]}) for row in rows]


def _schedule(cur: Any, schedule_id: int) -> Schedule:
    return load_schedules(cur, [repo.get_schedule(cur, schedule_id)])[0]


def _ensure_day_is_free(
    cur: Any, patient_id: int, day: date, *, excluding: int | None = None
) -> None:
    other = repo.other_active_schedule(cur, patient_id, day, excluding=excluding)
    if other is not None:
        raise ConflictError(
            f"The patient already has schedule {other} on {day.isoformat()};"
            " add care logs to it or cancel it first."
        )


# -- care logs -------------------------------------------------------------------------------


def add_care_log(db: Database, actor: Actor, schedule_id: int, body: CareLogCreate) -> CareLog:
    """A task on a schedule, by the owning guardian or the active caregiver."""
    with db.transaction() as cur:
        patient_id = repo.schedule_patient_id(cur, schedule_id)
        authorize_patient(cur, actor.principal, patient_id, PatientAction.WRITE_CARE_LOG)
        schedule = repo.get_schedule(cur, schedule_id)
        if schedule["status"] == "cancelled":
            raise ConflictError("The schedule is cancelled; it takes no new care logs.")
        try:
            row = repo.insert_care_log(
                cur,
                schedule_id=schedule_id,
                patient_id=patient_id,
                category=str(body.category),
                task_name=body.task_name,
                scheduled_time=body.scheduled_time,
                assignee=str(body.assignee),
                note=body.note,
            )
        except psycopg2.errors.CheckViolation as exc:
            raise _rejected(exc) from None
        audit.record(
            cur,
            actor,
            AuditAction.CREATE,
            patient_id=patient_id,
            resource_type="care_log",
            resource_id=row["care_log_id"],
        )
    return CareLog.model_validate(row)


def update_care_log(db: Database, actor: Actor, care_log_id: int, body: CareLogUpdate) -> CareLog:
    """Complete, un-complete or annotate a task (see the module docstring for who may)."""
    principal = actor.principal
    with db.transaction() as cur:
        patient_id = repo.care_log_patient_id(cur, care_log_id)
        authorize_patient(cur, principal, patient_id, PatientAction.WRITE_CARE_LOG)
        current = repo.get_care_log_for_update(cur, care_log_id)
        if principal.role == Role.GUARDIAN and current["assignee"] != "family":
            raise ForbiddenError(
                "Only the caregiver of the active matching may complete a caregiver task."
            )
        if current["schedule_status"] == "cancelled":
            raise ConflictError("The schedule is cancelled; its care logs cannot change.")
        given = body.model_fields_set
        try:
            row = repo.update_care_log(
                cur,
                care_log_id,
                is_completed=body.is_completed,
                user_id=principal.user_id,
                note=body.note,
                set_note="note" in given,
                vitals=body.vitals.readings() if body.vitals is not None else None,
                set_vitals="vitals" in given,
            )
        except psycopg2.errors.CheckViolation as exc:
            raise _rejected(exc) from None
        audit.record(
            cur,
            actor,
            AuditAction.UPDATE,
            patient_id=patient_id,
            resource_type="care_log",
            resource_id=care_log_id,
            detail={"is_completed": body.is_completed},
        )
    return CareLog.model_validate(row)


_CONSTRAINT_FIELDS = {
    "care_logs_vitals_check": ("body", "vitals"),
    "care_logs_note_check": ("body", "note"),
    "care_logs_task_name_check": ("body", "task_name"),
}


def _rejected(exc: psycopg2.errors.CheckViolation) -> ValidationFailedError:
    """A CHECK the models should have caught (the database is the last line of defence)."""
    constraint = getattr(exc.diag, "constraint_name", None) or ""
    loc = _CONSTRAINT_FIELDS.get(constraint, ("body",))
    return ValidationFailedError([FieldError(loc=loc, msg="is out of the allowed range")])


# -- care reports ----------------------------------------------------------------------------


def create_care_report(
    db: Database, actor: Actor, patient_id: int, body: CareReportCreate
) -> CareReport:
    """Completion rates and vitals of the period, computed in SQL, with an AI-written text
    (checked; the template text when AI is off or fails: shared.ai.report_summary).

    The text is written between two transactions: the AI call may take two timeouts and must
    not hold a database connection meanwhile; the second transaction authorises again."""
    with db.transaction(readonly=True) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        counts = repo.completion_counts(cur, patient_id, body.start_date, body.end_date)
        vital_rows = repo.vital_stats(cur, patient_id, body.start_date, body.end_date)
    by_category = {r["category"]: _num(r["rate"]) for r in counts if r["category"]}
    overall = next((_num(r["rate"]) for r in counts if r["category"] is None), None)
    vitals = {
        r["key"]: {
            "min": _num(r["min"]),
            "avg": _num(r["avg"]),
            "max": _num(r["max"]),
            "count": r["count"],
        }
        for r in vital_rows
    }
    vitals = {key: vitals[key] for key in repo.VITAL_KEYS if key in vitals}
    figures = report_text.ReportFigures(
        report_type=str(body.report_type),
        start_date=body.start_date,
        end_date=body.end_date,
        medication_rate=by_category.get("medication"),
        meal_rate=by_category.get("meal"),
        overall_rate=overall,
        by_category=by_category,
        vitals=vitals,
    )
    written = report_summary.write(figures)
    text = written.text
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        row = repo.insert_report(
            cur,
            {
                "patient_id": patient_id,
                "report_type": str(body.report_type),
                "start_date": body.start_date,
                "end_date": body.end_date,
                "medication_completion_rate": figures.medication_rate,
                "meal_completion_rate": figures.meal_rate,
                "overall_completion_rate": overall,
                "completion_by_category": by_category,
                "vitals": vitals,
                "summary": text.summary,
                "suggestions": text.suggestions,
                "source": text.source,
                "created_by": actor.user_id,
            },
        )
        report_summary.record(
            cur,
            written,
            patient_id=patient_id,
            requested_by=actor.user_id,
            report_id=row["report_id"],
        )
        audit.record(
            cur,
            actor,
            AuditAction.CREATE,
            patient_id=patient_id,
            resource_type="care_report",
            resource_id=row["report_id"],
        )
    return CareReport.model_validate(row)


def list_care_reports(
    db: Database, actor: Actor, patient_id: int, query: CareReportQuery
) -> Page[CareReport]:
    """The patient's care reports, newest first."""
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.READ_CARE)
        rows, total = repo.patient_reports(cur, patient_id, limit=query.limit, offset=query.offset)
        reports = [CareReport.model_validate(row) for row in rows]
        targets = [(patient_id, r.report_id) for r in reports] or [(patient_id, None)]
        audit.record_many(cur, actor, AuditAction.VIEW, "care_report", targets)
    return Page[CareReport](items=reports, total=total)


def _num(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)
