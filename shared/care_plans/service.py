"""Care plans (API.md "Care plans, meals, schedules and logs").

Create (owning guardian, MANAGE): the patient's care profile is read, AI (or the template)
writes the days, then one transaction stores the plan (`draft`), one `draft` schedule per day
and one care log per activity, the generation record, and the audit events. The AI call runs
between two transactions, never inside one: it may take up to two timeouts and must not hold
a database connection meanwhile. The second transaction authorises again (the patient may
have been deleted or handed over in between).

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
from typing import Any

from models.care_plans import CarePlan, CarePlanCreate, CarePlanQuery
from models.common import Page
from shared import audit
from shared.ai import care_plans as ai_care_plans
from shared.ai import generations
from shared.ai.prompts import CareProfile
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, authorize_patient
from shared.auth.principal import Actor
from shared.care import repository as care_repo
from shared.care_plans import repository as repo
from shared.db import Database
from shared.errors import ConflictError, NotFoundError
from shared.patients import repository as patients_repo


def read_care_profile(db: Database, actor: Actor, patient_id: int) -> CareProfile:
    """Authorise MANAGE and read what AI writing may know (and check against)."""
    with db.transaction(readonly=True) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        patient = patients_repo.get_patient(cur, patient_id)
    if patient is None:
        raise NotFoundError("No such patient, or it is not in your care.")
    return CareProfile.from_patient(patient)


def create_care_plan(db: Database, actor: Actor, patient_id: int, body: CarePlanCreate) -> CarePlan:
    profile = read_care_profile(db, actor, patient_id)
    written = ai_care_plans.write(profile, body.start_date, body.days)
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        care_plan_id = repo.insert_care_plan(
            cur,
            patient_id=patient_id,
            created_by=actor.user_id,
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
            requested_by=actor.user_id,
            resource_type="care_plan",
            resource_ids=[care_plan_id],
        )
        audit.record(
            cur,
            actor,
            AuditAction.CREATE,
            patient_id=patient_id,
            resource_type="care_plan",
            resource_id=care_plan_id,
            detail={"days": body.days, "source": written.source},
        )
        audit.record_many(
            cur, actor, AuditAction.CREATE, "schedule", [(patient_id, s) for s in schedule_ids]
        )
        return _load_plans(cur, [repo.get_care_plan(cur, care_plan_id)])[0]


def list_care_plans(
    db: Database, actor: Actor, patient_id: int, query: CarePlanQuery
) -> Page[CarePlan]:
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.READ_CARE)
        rows, total = repo.patient_care_plans(
            cur, patient_id, limit=query.limit, offset=query.offset
        )
        plans = _load_plans(cur, rows)
        targets = [(patient_id, p.care_plan_id) for p in plans] or [(patient_id, None)]
        audit.record_many(cur, actor, AuditAction.VIEW, "care_plan", targets)
    return Page[CarePlan](items=plans, total=total)


def confirm_care_plan(db: Database, actor: Actor, care_plan_id: int) -> CarePlan:
    with db.transaction() as cur:
        patient_id = repo.care_plan_patient_id(cur, care_plan_id)
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
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
        audit.record(
            cur,
            actor,
            AuditAction.UPDATE,
            patient_id=patient_id,
            resource_type="care_plan",
            resource_id=care_plan_id,
            detail={"status": "confirmed"},
        )
        return _load_plans(cur, [repo.get_care_plan(cur, care_plan_id)])[0]


def _load_plans(cur: Any, rows: list[dict[str, Any]]) -> list[CarePlan]:
    """Plans with their days and activities: two queries whatever the number of plans."""
    schedules = repo.plan_schedules(cur, [row["care_plan_id"] for row in rows])
    logs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for log in care_repo.care_logs_of(cur, [s["schedule_id"] for s in schedules]):
        logs[log["schedule_id"]].append(log)
    days: dict[int, list[dict[str, Any]]] = defaultdict(list)
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
