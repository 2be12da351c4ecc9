"""Care plans (API.md "Care plans, meals, schedules and logs").

Every function takes the request's unit of work (shared.unit_of_work).

Create (owning guardian, MANAGE): the patient's care profile is read, the call is counted
against the caller's hourly AI allowance (shared.rate_limits: its own committed transaction, 429
over it, before AI is asked), AI (or the template) writes the days, then one transaction stores
the plan (`draft`), one `draft` schedule per day and one care log per activity, the generation
record, and the audit events. The AI call runs between two transactions, never inside one: it
may take up to two timeouts and must not hold a database connection meanwhile, so the unit of
work is committed before it (`uow.commit()`) and its next use begins the second transaction,
which authorises again (the patient may have been deleted or handed over in between).

Confirm (owning guardian, MANAGE): the plan's draft days become `scheduled` and the plan
`confirmed`, under the patient lock of the one-active-schedule-a-day rule
(shared.patients.repository.lock_patient). If any of its days already has a `scheduled` or
`completed` schedule, nothing changes and the answer is 409 naming every such date. Confirming
a confirmed plan is 409 too.

Read (READ_CARE: owner, active caregiver, operators): the patient's plans, newest first, each
with its days and activities.
"""

from __future__ import annotations

from collections import defaultdict

from models.care_plans import CarePlan, CarePlanCreate, CarePlanQuery
from models.common import Page
from shared import rate_limits
from shared.ai import care_plans as ai_care_plans
from shared.ai import generations
from shared.ai.prompts import CareProfile
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.care import repository as care_repo
from shared.care.repository import CareLogRow
from shared.care_plans import repository as repo
from shared.care_plans.repository import CarePlanRow
from shared.db import Cursor
from shared.errors import ConflictError, NotFoundError
from shared.patients import repository as patients_repo
from shared.rate_limits import LimitedAction
from shared.unit_of_work import UnitOfWork

#: An audit target: (patient_id, resource_id).
Target = tuple[int | None, object]


def read_care_profile(uow: UnitOfWork, patient_id: int) -> CareProfile:
    """Authorise MANAGE and read what AI writing may know (and check against).

    Reads in the unit of work's transaction (a read-only one when none is open yet); the caller
    commits it (`uow.commit()`) before it asks AI to write."""
    uow.read_only()
    uow.authorize(patient_id, PatientAction.MANAGE)
    patient = patients_repo.get_patient(uow.cursor, patient_id)
    if patient is None:
        raise NotFoundError("No such patient, or it is not in your care.")
    return CareProfile.from_patient(patient)


def create_care_plan(uow: UnitOfWork, patient_id: int, body: CarePlanCreate) -> CarePlan:
    """A draft plan of `body.days` days written by AI (or the templates): see the module
    docstring for its two transactions."""
    profile = read_care_profile(uow, patient_id)
    uow.commit()  # no connection is held while AI writes
    rate_limits.charge(uow, LimitedAction.AI_WRITING)  # committed; 429 before AI is asked
    written = ai_care_plans.write(profile, body.start_date, body.days)

    uow.authorize(patient_id, PatientAction.MANAGE)  # begins the second transaction
    cur = uow.cursor
    user_id = uow.principal.user_id
    care_plan_id = repo.insert_care_plan(
        cur,
        patient_id=patient_id,
        created_by=user_id,
        start_date=body.start_date,
        days=body.days,
        source=written.source,
        disclaimer=ai_care_plans.DISCLAIMER,
    )
    schedule_ids = []
    for day in written.days:
        schedule_id = care_repo.insert_schedule(cur, patient_id, day.date, "draft")
        schedule_ids.append(schedule_id)
        for activity in day.activities:
            care_repo.insert_care_log(
                cur,
                schedule_id=schedule_id,
                patient_id=patient_id,
                category=activity.category,
                task_name=activity.title,
                scheduled_time=activity.time,
                assignee=activity.assignee,
                note=activity.note,
            )
    repo.attach_schedules(cur, care_plan_id, schedule_ids)
    generations.insert(
        cur,
        written.generation,
        patient_id=patient_id,
        requested_by=user_id,
        resource_type="care_plan",
        resource_ids=[care_plan_id],
    )
    uow.audit(
        AuditAction.CREATE,
        "care_plan",
        patient_id=patient_id,
        resource_id=care_plan_id,
        detail={"days": body.days, "source": written.source},
    )
    uow.audit_many(AuditAction.CREATE, "schedule", [(patient_id, s) for s in schedule_ids])
    return _plan(cur, care_plan_id)


def list_care_plans(uow: UnitOfWork, patient_id: int, query: CarePlanQuery) -> Page[CarePlan]:
    """The patient's care plans, newest first, each with its days and activities."""
    uow.authorize(patient_id, PatientAction.READ_CARE)
    cur = uow.cursor
    rows, total = repo.patient_care_plans(cur, patient_id, limit=query.limit, offset=query.offset)
    plans = _load_plans(cur, rows)
    targets: list[Target] = [(patient_id, p.care_plan_id) for p in plans]
    uow.audit_many(AuditAction.VIEW, "care_plan", targets or [(patient_id, None)])
    return Page[CarePlan](items=plans, total=total)


def confirm_care_plan(uow: UnitOfWork, care_plan_id: int) -> CarePlan:
    """The plan's draft days become `scheduled`, the plan `confirmed` (409: see the module
    docstring)."""
    cur = uow.cursor
    patient_id = uow.authorize(
        repo.care_plan_patient_id(cur, care_plan_id), PatientAction.MANAGE
    ).patient_id
    patients_repo.lock_patient(cur, patient_id, profile_changed=False)
    plan = repo.get_care_plan(cur, care_plan_id, for_update=True)
    if plan is None:  # deleted with its patient by a request that just committed
        raise NotFoundError("No such care plan, or it is not in your care.")
    if plan["status"] == "confirmed":
        raise ConflictError("The care plan is already confirmed.")
    days = repo.plan_schedules(cur, [care_plan_id])
    drafts = [day for day in days if day["status"] == "draft"]
    taken = []
    for day in drafts:
        other = care_repo.other_active_schedule(
            cur, patient_id, day["schedule_date"], excluding=day["schedule_id"]
        )
        if other is not None:
            taken.append(f"{day['schedule_date'].isoformat()} (schedule {other})")
    if taken:
        raise ConflictError(
            "The patient already has a schedule in force on "
            + ", ".join(taken)
            + "; cancel it or make a new plan for other days."
        )
    for day in drafts:
        care_repo.update_schedule_status(cur, day["schedule_id"], "scheduled")
    repo.set_status(cur, care_plan_id, "confirmed")
    uow.audit(
        AuditAction.UPDATE,
        "care_plan",
        patient_id=patient_id,
        resource_id=care_plan_id,
        detail={"status": "confirmed"},
    )
    return _plan(cur, care_plan_id)


def _plan(cur: Cursor, care_plan_id: int) -> CarePlan:
    """One plan (written or locked in this transaction, so it exists) with its days."""
    row = repo.get_care_plan(cur, care_plan_id)
    if row is None:
        raise NotFoundError("No such care plan, or it is not in your care.")
    return _load_plans(cur, [row])[0]


def _load_plans(cur: Cursor, rows: list[CarePlanRow]) -> list[CarePlan]:
    """Plans with their days and activities: two queries whatever the number of plans."""
    schedules = repo.plan_schedules(cur, [row["care_plan_id"] for row in rows])
    logs: dict[int, list[CareLogRow]] = defaultdict(list)
    for log in care_repo.care_logs_of(cur, [s["schedule_id"] for s in schedules]):
        logs[log["schedule_id"]].append(log)
    days: dict[int, list[dict[str, object]]] = defaultdict(list)
    for schedule in schedules:
        days[schedule["care_plan_id"]].append(
            {
                "date": schedule["schedule_date"],
                "schedule_id": schedule["schedule_id"],
                "status": schedule["status"],
                "activities": [
                    {
                        "care_log_id": log["care_log_id"],
                        "time": log["scheduled_time"],
                        "title": log["task_name"],
                        "category": log["category"],
                        "assignee": log["assignee"],
                        "note": log["note"],
                        "is_completed": log["is_completed"],
                    }
                    for log in logs[schedule["schedule_id"]]
                ],
            }
        )
    return [CarePlan.model_validate({**row, "days": days[row["care_plan_id"]]}) for row in rows]
