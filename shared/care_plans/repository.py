"""All SQL of care plans. Their schedules and care logs are written through
shared.care.repository (insert_schedule, insert_care_log, update_schedule_status); this module
owns the `care_plans` table and the link from a schedule to its plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

_PLAN_COLUMNS = (
    "care_plan_id, patient_id, start_date, days, status, source, disclaimer, created_at, updated_at"
)


def insert_care_plan(
    cur: Any,
    *,
    patient_id: int,
    created_by: int,
    start_date: date,
    days: int,
    source: str,
    disclaimer: str,
) -> int:
    cur.execute(
        "INSERT INTO care_plans (patient_id, created_by, start_date, days, status, source,"
        " disclaimer) VALUES (%s, %s, %s, %s, 'draft', %s, %s) RETURNING care_plan_id",
        (patient_id, created_by, start_date, days, source, disclaimer),
    )
    return cur.fetchone()["care_plan_id"]


def attach_schedules(cur: Any, care_plan_id: int, schedule_ids: Sequence[int]) -> None:
    """Make the schedules the plan's days."""
    cur.execute(
        "UPDATE schedules SET care_plan_id = %s WHERE schedule_id = ANY(%s)",
        (care_plan_id, list(schedule_ids)),
    )


def care_plan_patient_id(cur: Any, care_plan_id: int) -> int | None:
    cur.execute("SELECT patient_id FROM care_plans WHERE care_plan_id = %s", (care_plan_id,))
    row = cur.fetchone()
    return row["patient_id"] if row else None


def get_care_plan(
    cur: Any, care_plan_id: int, *, for_update: bool = False
) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(
        f"SELECT {_PLAN_COLUMNS} FROM care_plans WHERE care_plan_id = %s{lock}",  # noqa: S608
        (care_plan_id,),
    )
    return cur.fetchone()


def set_status(cur: Any, care_plan_id: int, status: str) -> None:
    cur.execute("UPDATE care_plans SET status = %s WHERE care_plan_id = %s", (status, care_plan_id))


def patient_care_plans(
    cur: Any, patient_id: int, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The patient's care plans, newest first, and how many there are."""
    cur.execute("SELECT count(*) AS total FROM care_plans WHERE patient_id = %s", (patient_id,))
    total = cur.fetchone()["total"]
    cur.execute(
        f"SELECT {_PLAN_COLUMNS} FROM care_plans WHERE patient_id = %s"  # noqa: S608
        " ORDER BY created_at DESC, care_plan_id DESC LIMIT %s OFFSET %s",
        (patient_id, limit, offset),
    )
    return cur.fetchall(), total


def plan_schedules(cur: Any, care_plan_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The schedules (days) of many plans, by plan and date, in one query."""
    if not care_plan_ids:
        return []
    cur.execute(
        "SELECT schedule_id, patient_id, schedule_date, status, care_plan_id FROM schedules"
        " WHERE care_plan_id = ANY(%s) ORDER BY care_plan_id, schedule_date, schedule_id",
        (list(care_plan_ids),),
    )
    return cur.fetchall()
