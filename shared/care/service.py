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
day and a draft day take no new or changed care logs through the API (409).

Every function takes the request's unit of work (shared.unit_of_work): it authorises, reads or
writes, and writes its audit events in the transaction the unit of work holds, so they commit
exactly when the work does. A care report is the exception that proves the rule: its text is
written by AI between two transactions (see `create_care_report`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import TypeVar

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
from shared import rate_limits
from shared.ai import report_summary
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, require_role
from shared.care import report_text
from shared.care import repository as repo
from shared.care.repository import NewReport, ScheduleRow, VitalFigures
from shared.continuity import continuity_for_periods, continuity_of
from shared.db import Cursor
from shared.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ValidationFailedError,
)
from shared.patients import repository as patients_repo
from shared.rate_limits import LimitedAction
from shared.unit_of_work import UnitOfWork

#: An audit target: (patient_id, resource_id).
Target = tuple[int | None, object]
RowT = TypeVar("RowT")


def parse_path_date(value: str) -> date:
    """The `{date}` path segment as a date; 422 naming ["path", "date"] otherwise."""
    try:
        return parse_iso_date(value)
    except ValueError as exc:
        raise ValidationFailedError([FieldError(loc=("path", "date"), msg=str(exc))]) from None


# -- schedules -------------------------------------------------------------------------------


def schedules_on(uow: UnitOfWork, day: date) -> ScheduleDay:
    """The caller's schedules on `day`, with their care logs (guardians and caregivers)."""
    principal = uow.principal
    require_role(principal, Role.GUARDIAN, Role.CAREGIVER)
    cur = uow.cursor
    if principal.role == Role.GUARDIAN:
        rows = repo.guardian_schedules_on(cur, principal.user_id, day)
    else:
        rows = repo.caregiver_schedules_on(cur, principal.user_id, day)
    schedules = load_schedules(cur, rows)
    uow.audit_many(
        AuditAction.VIEW,
        "schedule",
        [(s.patient_id, s.schedule_id) for s in schedules],
        detail={"date": day.isoformat()},
    )
    return ScheduleDay(date=day, items=schedules)


def patient_schedules(uow: UnitOfWork, patient_id: int, query: SchedulesQuery) -> Page[Schedule]:
    """One patient's schedules between `from` and `to`, with their care logs."""
    first, last = query.from_, query.to
    if first is None or last is None:  # the query model's validator fills both ends
        raise RuntimeError("a SchedulesQuery without its window")
    uow.authorize(patient_id, PatientAction.READ_CARE)
    cur = uow.cursor
    rows, total = repo.patient_schedules(
        cur, patient_id, first, last, limit=query.limit, offset=query.offset
    )
    schedules = load_schedules(cur, rows)
    targets: list[Target] = [(patient_id, s.schedule_id) for s in schedules]
    uow.audit_many(
        AuditAction.VIEW,
        "schedule",
        targets or [(patient_id, None)],
        detail={"from": first.isoformat(), "to": last.isoformat()},
    )
    return Page[Schedule](items=schedules, total=total)


def create_schedule(uow: UnitOfWork, patient_id: int, body: ScheduleCreate) -> Schedule:
    """A schedule made by the owning guardian; 409 if the day already has one in force."""
    uow.authorize(patient_id, PatientAction.MANAGE)
    cur = uow.cursor
    if body.status != "cancelled":
        patients_repo.lock_patient(cur, patient_id, profile_changed=False)
        _ensure_day_is_free(cur, patient_id, body.schedule_date)
    schedule_id = repo.insert_schedule(cur, patient_id, body.schedule_date, body.status)
    uow.audit(AuditAction.CREATE, "schedule", patient_id=patient_id, resource_id=schedule_id)
    return _schedule(cur, schedule_id)


def update_schedule_status(
    uow: UnitOfWork, schedule_id: int, body: ScheduleStatusUpdate
) -> Schedule:
    """Set a schedule's status (owning guardian); drafts change only through their care plan."""
    cur = uow.cursor
    patient_id = uow.authorize(
        repo.schedule_patient_id(cur, schedule_id), PatientAction.MANAGE
    ).patient_id
    patients_repo.lock_patient(cur, patient_id, profile_changed=False)
    current = _found(repo.get_schedule(cur, schedule_id, for_update=True), "schedule")
    if current["status"] == "draft":
        raise ConflictError(
            "This schedule is a draft of a care plan; confirm the care plan instead."
        )
    if body.status != "cancelled":
        _ensure_day_is_free(cur, patient_id, current["schedule_date"], excluding=schedule_id)
    if body.status != current["status"]:
        repo.update_schedule_status(cur, schedule_id, body.status)
    uow.audit(
        AuditAction.UPDATE,
        "schedule",
        patient_id=patient_id,
        resource_id=schedule_id,
        detail={"status": body.status},
    )
    return _schedule(cur, schedule_id)


def load_schedules(cur: Cursor, rows: list[ScheduleRow]) -> list[Schedule]:
    """Schedule rows with their care logs, loaded in one query for all of them."""
    logs: dict[int, list[CareLog]] = defaultdict(list)
    for log in repo.care_logs_of(cur, [row["schedule_id"] for row in rows]):
        logs[log["schedule_id"]].append(CareLog.model_validate(log))
    return [Schedule.model_validate({**row, "care_logs": logs[row["schedule_id"]]}) for row in rows]


def _schedule(cur: Cursor, schedule_id: int) -> Schedule:
    return load_schedules(cur, [_found(repo.get_schedule(cur, schedule_id), "schedule")])[0]


def _ensure_day_is_free(
    cur: Cursor, patient_id: int, day: date, *, excluding: int | None = None
) -> None:
    other = repo.other_active_schedule(cur, patient_id, day, excluding=excluding)
    if other is not None:
        raise ConflictError(
            f"The patient already has schedule {other} on {day.isoformat()};"
            " add care logs to it or cancel it first."
        )


def _found(row: RowT | None, what: str) -> RowT:
    """The row, or the 404 of a row deleted (with its patient) since it was authorised."""
    if row is None:
        raise NotFoundError(f"No such {what}, or it is not in your care.")
    return row


# -- care logs -------------------------------------------------------------------------------

#: Schedules whose care logs the API does not add or change (409), with why. A draft belongs to
#: an unconfirmed care plan: the care-plan flow writes its logs through the repository itself.
_CLOSED_TO_CARE_LOGS = {
    "cancelled": "The schedule is cancelled;",
    "draft": "The schedule is a draft of an unconfirmed care plan (confirm the plan first);",
}


def add_care_log(uow: UnitOfWork, schedule_id: int, body: CareLogCreate) -> CareLog:
    """A task on a schedule, by the owning guardian or the active caregiver."""
    cur = uow.cursor
    patient_id = uow.authorize(
        repo.schedule_patient_id(cur, schedule_id), PatientAction.WRITE_CARE_LOG
    ).patient_id
    schedule = _found(repo.get_schedule(cur, schedule_id), "schedule")
    if schedule["status"] in _CLOSED_TO_CARE_LOGS:
        raise ConflictError(
            _CLOSED_TO_CARE_LOGS[schedule["status"]] + " it takes no new care logs."
        )
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
    uow.audit(AuditAction.CREATE, "care_log", patient_id=patient_id, resource_id=row["care_log_id"])
    return CareLog.model_validate(row)


def update_care_log(uow: UnitOfWork, care_log_id: int, body: CareLogUpdate) -> CareLog:
    """Complete, un-complete or annotate a task (see the module docstring for who may)."""
    principal = uow.principal
    cur = uow.cursor
    patient_id = uow.authorize(
        repo.care_log_patient_id(cur, care_log_id), PatientAction.WRITE_CARE_LOG
    ).patient_id
    current = _found(repo.get_care_log_for_update(cur, care_log_id), "care log")
    if principal.role == Role.GUARDIAN and current["assignee"] != "family":
        raise ForbiddenError(
            "Only the caregiver of the active matching may complete a caregiver task."
        )
    if current["schedule_status"] in _CLOSED_TO_CARE_LOGS:
        raise ConflictError(
            _CLOSED_TO_CARE_LOGS[current["schedule_status"]] + " its care logs cannot change."
        )
    given = body.model_fields_set
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
    uow.audit(
        AuditAction.UPDATE,
        "care_log",
        patient_id=patient_id,
        resource_id=care_log_id,
        detail={"is_completed": body.is_completed},
    )
    return CareLog.model_validate(row)


# -- care reports ----------------------------------------------------------------------------


def create_care_report(uow: UnitOfWork, patient_id: int, body: CareReportCreate) -> CareReport:
    """Completion rates and vitals of the period, computed in SQL, with an AI-written text
    (checked; the template text when AI is off or fails: shared.ai.report_summary).

    The text is written between two transactions: the figures are read in a read-only one,
    which is committed before the AI call (it may take two timeouts and must not hold a
    database connection meanwhile); the next use of the unit of work begins the second
    transaction, which authorises again before the report is stored. Between them the report is
    counted against the caller's hourly AI allowance (shared.rate_limits; 429 over it)."""
    uow.read_only()
    uow.authorize(patient_id, PatientAction.MANAGE)
    counts = repo.completion_counts(uow.cursor, patient_id, body.start_date, body.end_date)
    vital_rows = repo.vital_stats(uow.cursor, patient_id, body.start_date, body.end_date)
    continuity = continuity_of(uow.cursor, patient_id, body.start_date, body.end_date)
    uow.commit()
    rate_limits.charge(uow, LimitedAction.AI_WRITING)  # committed; 429 before AI is asked

    by_category = {
        r["category"]: float(r["rate"])
        for r in counts
        if r["category"] is not None and r["rate"] is not None  # a category row has tasks
    }
    overall = next((_num(r["rate"]) for r in counts if r["category"] is None), None)
    found: dict[str, VitalFigures] = {
        r["key"]: {
            "min": float(r["min"]),
            "avg": float(r["avg"]),
            "max": float(r["max"]),
            "count": r["count"],
        }
        for r in vital_rows
    }
    vitals = {key: found[key] for key in repo.VITAL_KEYS if key in found}
    figures = report_text.ReportFigures(
        report_type=str(body.report_type),
        start_date=body.start_date,
        end_date=body.end_date,
        medication_rate=by_category.get("medication"),
        meal_rate=by_category.get("meal"),
        overall_rate=overall,
        by_category=by_category,
        vitals={key: dict(stats) for key, stats in vitals.items()},
    )
    written = report_summary.write(figures)  # no transaction is open here
    text = written.text

    uow.authorize(patient_id, PatientAction.MANAGE)  # begins the second transaction
    user_id = uow.principal.user_id
    report: NewReport = {
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
        "created_by": user_id,
    }
    row = repo.insert_report(uow.cursor, report)
    report_summary.record(
        uow.cursor, written, patient_id=patient_id, requested_by=user_id, report_id=row["report_id"]
    )
    uow.audit(
        AuditAction.CREATE, "care_report", patient_id=patient_id, resource_id=row["report_id"]
    )
    return CareReport.model_validate({**row, "continuity": continuity})


def list_care_reports(uow: UnitOfWork, patient_id: int, query: CareReportQuery) -> Page[CareReport]:
    """The patient's care reports, newest first."""
    uow.authorize(patient_id, PatientAction.READ_CARE)
    rows, total = repo.patient_reports(
        uow.cursor, patient_id, limit=query.limit, offset=query.offset
    )
    periods = [(row["start_date"], row["end_date"]) for row in rows]
    continuity = continuity_for_periods(uow.cursor, patient_id, periods)
    reports = [
        CareReport.model_validate({**row, "continuity": found})
        for row, found in zip(rows, continuity, strict=True)
    ]
    targets: list[Target] = [(patient_id, r.report_id) for r in reports]
    uow.audit_many(AuditAction.VIEW, "care_report", targets or [(patient_id, None)])
    return Page[CareReport](items=reports, total=total)


def _num(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)
