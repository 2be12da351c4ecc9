"""The visit's checklist: the day's care-log activities, each done or not done with a reason.

A visit's tasks are the care logs of its schedule assigned to the caregiver
(`assignee = 'caregiver'`); all of them are required. The caregiver records each one's outcome
while the visit is in progress (`record_task`); afterwards the visit is locked and the checklist
with it (409: times change through a correction, the record of care does not).

Recording keeps the care log in step, in the same transaction: `done` completes it (the first
completion's time and author stay, as `PATCH /api/care-logs/{id}` does) and stores the readings
of a `vital_check` task (the care log's ranges, `models.care.VitalsIn`); `not_done` un-completes
it unless another visit of the same schedule recorded it done. A task whose care log is
completed counts as done: completed through `PATCH /api/care-logs/{id}` (as offline phones replay
their care-log writes), or at another visit of the same schedule (a morning and an evening visit
of one day), it is not required again.

`require_complete(uow, visit)` is what check-out asks: every required task has an outcome, or a
422 (`checklist_incomplete`) naming each task still open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.care import Vitals
from models.visit_details import TaskRecord, VisitTask, VisitTasks
from models.vocabularies import CareLogCategory, TaskOutcome, VisitStatus
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.care import repository as care_repo
from shared.errors import AppError, FieldError, NotFoundError, ValidationFailedError
from shared.visits import details_repository as repo
from shared.visits.access import visit_access

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork
    from shared.visits.access import VisitRef
    from shared.visits.details_repository import TaskRow


class ChecklistIncompleteError(ValidationFailedError):
    """Check-out before every required task has an outcome (422)."""

    code = "checklist_incomplete"


class VisitLockedError(AppError):
    """The visit is not in progress: its checklist and medications no longer change (409)."""

    status, code, title = 409, "visit_not_open", "Conflict"


def require_open(visit: VisitRef, what: str) -> None:
    """409 unless the visit is in progress (the window in which its details are recorded)."""
    if visit.status is VisitStatus.IN_PROGRESS:
        return
    if visit.locked:
        raise VisitLockedError(
            f"This visit is checked out and locked: its {what} no longer change. A wrong time "
            "is fixed through a correction (POST /api/visits/{visit_id}/corrections)."
        )
    raise VisitLockedError(
        f"This visit is {visit.status.value} ({visit.status.label}): its {what} are recorded "
        "between check-in and check-out."
    )


def list_tasks(uow: UnitOfWork, visit_id: int) -> VisitTasks:
    """The visit's checklist with this visit's outcomes (READ_CARE)."""
    visit = visit_access(uow, visit_id, PatientAction.READ_CARE)
    rows = repo.visit_tasks(uow.cursor, visit.visit_id, visit.schedule_id)
    uow.audit(AuditAction.VIEW, "visit_task", patient_id=visit.patient_id, resource_id=visit_id)
    return _checklist(visit, rows)


def record_task(uow: UnitOfWork, visit_id: int, care_log_id: int, body: TaskRecord) -> VisitTask:
    """One task's outcome at this visit, by the visit's caregiver while it is in progress."""
    visit = visit_access(uow, visit_id, PatientAction.RECORD_VISIT, for_update=True)
    cur = uow.cursor
    task = repo.visit_task(cur, visit.visit_id, visit.schedule_id, care_log_id)
    if task is None:
        raise NotFoundError("No such task on this visit's checklist.")
    require_open(visit, "tasks")
    if body.vitals is not None and task["category"] != CareLogCategory.VITAL_CHECK:
        raise ValidationFailedError(
            [FieldError(("body", "vitals"), "are recorded only on vital_check tasks")]
        )
    done = body.outcome is TaskOutcome.DONE
    repo.upsert_visit_task(
        cur,
        visit.visit_id,
        care_log_id,
        outcome=body.outcome.value,
        reason=body.reason,
        user_id=uow.principal.user_id,
    )
    if done or not task["done_at_other_visit"]:
        readings = body.vitals.readings() if body.vitals is not None else None
        care_repo.update_care_log(
            cur,
            care_log_id,
            is_completed=done,
            user_id=uow.principal.user_id,
            note=None,
            set_note=False,
            vitals=readings,
            set_vitals=readings is not None,
        )
    uow.audit(
        AuditAction.UPDATE,
        "visit_task",
        patient_id=visit.patient_id,
        resource_id=care_log_id,
        detail={"visit_id": visit.visit_id, "outcome": body.outcome.value},
    )
    updated = repo.visit_task(cur, visit.visit_id, visit.schedule_id, care_log_id)
    assert updated is not None
    return _task(updated)


def require_complete(uow: UnitOfWork, visit: VisitRef) -> None:
    """Raise a 422 naming the tasks still without an outcome; nothing when all have one."""
    rows = repo.visit_tasks(uow.cursor, visit.visit_id, visit.schedule_id)
    open_tasks = [row for row in rows if _missing(row)]
    if not open_tasks:
        return
    raise ChecklistIncompleteError(
        [
            FieldError(
                ("checklist", row["care_log_id"]),
                f"{row['task_name']}: mark it done, or not done with a reason",
            )
            for row in open_tasks
        ],
        detail=f"{len(open_tasks)} required task(s) of this visit have no outcome yet.",
    )


def _missing(row: TaskRow) -> bool:
    return row["outcome"] is None


def _checklist(visit: VisitRef, rows: list[TaskRow]) -> VisitTasks:
    return VisitTasks(
        visit_id=visit.visit_id,
        schedule_id=visit.schedule_id,
        items=[_task(row) for row in rows],
        missing=sum(1 for row in rows if _missing(row)),
    )


def _task(row: TaskRow) -> VisitTask:
    category = CareLogCategory(row["category"])
    vitals = row["vitals"]
    return VisitTask(
        care_log_id=row["care_log_id"],
        category=category,
        category_label=category.label,
        task_name=row["task_name"],
        scheduled_time=row["scheduled_time"],
        outcome=TaskOutcome(row["outcome"]) if row["outcome"] else None,
        reason=row["reason"],
        recorded_by=row["recorded_by"],
        recorded_via=row["recorded_via"],
        recorded_at=row["recorded_at"],
        is_completed=row["is_completed"],
        vitals=Vitals.model_validate(vitals) if vitals else None,
    )
