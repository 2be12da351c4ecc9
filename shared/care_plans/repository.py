"""All SQL of care plans. Their schedules and care logs are written through
shared.care.repository (insert_schedule, insert_care_log, update_schedule_status); this module
owns the `care_plans` table and the link from a schedule to its plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TypedDict, cast

from psycopg2.extras import RealDictRow

from shared.db import Cursor

_PLAN_COLUMNS = (
    "care_plan_id, patient_id, start_date, days, status, source, disclaimer, created_at, updated_at"
)


class CarePlanRow(TypedDict):
    care_plan_id: int
    patient_id: int
    start_date: date
    days: int  # how many days were asked for (the plan's days are its schedules)
    status: str  # "draft" or "confirmed"
    source: str  # "ai" or "template"
    disclaimer: str
    created_at: datetime
    updated_at: datetime


class PlanScheduleRow(TypedDict):
    """One day of a plan: its schedule."""

    schedule_id: int
    patient_id: int
    schedule_date: date
    status: str  # a ScheduleStatus code
    care_plan_id: int


def insert_care_plan(
    cur: Cursor,
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
    return int(_one(cur)["care_plan_id"])


def attach_schedules(cur: Cursor, care_plan_id: int, schedule_ids: Sequence[int]) -> None:
    """Make the schedules the plan's days."""
    cur.execute(
        "UPDATE schedules SET care_plan_id = %s WHERE schedule_id = ANY(%s)",
        (care_plan_id, list(schedule_ids)),
    )


def care_plan_patient_id(cur: Cursor, care_plan_id: int) -> int | None:
    cur.execute("SELECT patient_id FROM care_plans WHERE care_plan_id = %s", (care_plan_id,))
    row = cur.fetchone()
    return int(row["patient_id"]) if row else None


def get_care_plan(
    cur: Cursor, care_plan_id: int, *, for_update: bool = False
) -> CarePlanRow | None:
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(
        f"SELECT {_PLAN_COLUMNS} FROM care_plans WHERE care_plan_id = %s{lock}",  # noqa: S608
        (care_plan_id,),
    )
    return cast(CarePlanRow | None, cur.fetchone())


def set_status(cur: Cursor, care_plan_id: int, status: str) -> None:
    cur.execute("UPDATE care_plans SET status = %s WHERE care_plan_id = %s", (status, care_plan_id))


def patient_care_plans(
    cur: Cursor, patient_id: int, *, limit: int, offset: int
) -> tuple[list[CarePlanRow], int]:
    """The patient's care plans, newest first, and how many there are."""
    cur.execute("SELECT count(*) AS total FROM care_plans WHERE patient_id = %s", (patient_id,))
    total = int(_one(cur)["total"])
    cur.execute(
        f"SELECT {_PLAN_COLUMNS} FROM care_plans WHERE patient_id = %s"  # noqa: S608
        " ORDER BY created_at DESC, care_plan_id DESC LIMIT %s OFFSET %s",
        (patient_id, limit, offset),
    )
    return cast(list[CarePlanRow], cur.fetchall()), total


def plan_schedules(cur: Cursor, care_plan_ids: Sequence[int]) -> list[PlanScheduleRow]:
    """The schedules (days) of many plans, by plan and date, in one query."""
    if not care_plan_ids:
        return []
    cur.execute(
        "SELECT schedule_id, patient_id, schedule_date, status, care_plan_id FROM schedules"
        " WHERE care_plan_id = ANY(%s) ORDER BY care_plan_id, schedule_date, schedule_id",
        (list(care_plan_ids),),
    )
    return cast(list[PlanScheduleRow], cur.fetchall())


def _one(cur: Cursor) -> RealDictRow:
    """The row of a statement that always returns one."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row
