"""Visits to test a visit's details on, written straight to the database (tests.factories):
a patient's day with caregiver and family tasks and medications, and visits in each state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from models.dates import korea_today
from tests.factories import (
    Parties,
    cursor,
    make_care_log,
    make_schedule,
    make_visit,
    set_patient_profile,
)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class Day:
    """Today's schedule of `parties`' patient, its tasks and medications, and a visit of the
    assigned caregiver in progress (checked in 30 minutes ago, planned until 80 minutes on)."""

    parties: Parties
    schedule_id: int
    vital_log_id: int  # caregiver task, vital_check
    meal_log_id: int  # caregiver task, meal
    family_log_id: int  # family task: not on the checklist
    medication_ids: list[int]
    visit_id: int
    checked_in_at: datetime

    @property
    def visit_path(self) -> str:
        return f"api/visits/{self.visit_id}"

    def caregiver(self) -> dict[str, str]:
        return self.parties.headers("assigned_caregiver")


def make_day(database_url: str, parties: Parties) -> Day:
    start = now() - timedelta(minutes=40)
    checked_in = now() - timedelta(minutes=30)
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, korea_today())
        vital = make_care_log(
            cur, schedule_id, category="vital_check", task_name="혈압 측정", scheduled_time="09:00"
        )
        meal = make_care_log(cur, schedule_id, category="meal", task_name="점심 식사 보조")
        family = make_care_log(cur, schedule_id, task_name="병원 동행", assignee="family")
        medication_ids = set_patient_profile(
            cur, parties.patient_id, medications=("도네페질", "아스피린")
        )
        visit_id = make_visit(
            cur,
            schedule_id,
            parties.assigned_caregiver,
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            check_in_at=checked_in,
        )
    return Day(parties, schedule_id, vital, meal, family, medication_ids, visit_id, checked_in)


def past_visit(
    database_url: str,
    parties: Parties,
    *,
    days_ago: int,
    status: str = "completed",
    hour: int = 1,
    length: timedelta = timedelta(hours=2),
) -> int:
    """A visit of the assigned caregiver `days_ago` days back (its own schedule that day),
    planned at `hour` UTC; checked in and out as planned when completed, never when missed."""
    day: date = korea_today() - timedelta(days=days_ago)
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT schedule_id FROM schedules WHERE patient_id = %s AND schedule_date = %s",
            (parties.patient_id, day),
        )
        found = cur.fetchone()
        schedule_id = found["schedule_id"] if found else make_schedule(cur, parties.patient_id, day)
        completed = status == "completed"
        return make_visit(
            cur,
            schedule_id,
            parties.assigned_caregiver,
            planned_start=start,
            planned_end=start + length,
            check_in_at=start if completed else None,
            check_out_at=start + length if completed else None,
            status=status,
        )


def visit_row(database_url: str, visit_id: int) -> dict[str, Any]:
    with cursor(database_url) as cur:
        cur.execute("SELECT * FROM visits WHERE visit_id = %s", (visit_id,))
        return dict(cur.fetchone())


def outbox(database_url: str, patient_id: int, event: str) -> list[dict[str, Any]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT o.recipient_user_id, u.role, o.channel, o.urgent, o.payload"
            " FROM notification_outbox o JOIN users u ON u.user_id = o.recipient_user_id"
            " WHERE o.patient_id = %s AND o.event_type = %s ORDER BY o.outbox_id",
            (patient_id, event),
        )
        return [dict(row) for row in cur.fetchall()]


def audit_trail(database_url: str, patient_id: int) -> list[tuple[str, str, str | None]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_type, actor_role FROM audit_events"
            " WHERE patient_id = %s ORDER BY event_id",
            (patient_id,),
        )
        return [(r["action"], r["resource_type"], r["actor_role"]) for r in cur.fetchall()]


def stored(database_url: str, patient_id: int) -> str:
    """Everything a visit's details may change, for one patient, as text to compare."""
    queries = (
        "SELECT * FROM visits WHERE patient_id = %(p)s ORDER BY visit_id",
        "SELECT t.* FROM visit_tasks t JOIN visits v USING (visit_id)"
        " WHERE v.patient_id = %(p)s ORDER BY 1, 2",
        "SELECT * FROM care_logs WHERE patient_id = %(p)s ORDER BY care_log_id",
        "SELECT * FROM medication_administrations WHERE patient_id = %(p)s ORDER BY 1",
        "SELECT * FROM visit_corrections WHERE patient_id = %(p)s ORDER BY 1",
        "SELECT * FROM incidents WHERE patient_id = %(p)s ORDER BY 1",
        "SELECT outbox_id FROM notification_outbox WHERE patient_id = %(p)s ORDER BY 1",
    )
    with cursor(database_url) as cur:
        parts = []
        for query in queries:
            cur.execute(query, {"p": patient_id})
            parts.append(cur.fetchall())
        return str(parts)
