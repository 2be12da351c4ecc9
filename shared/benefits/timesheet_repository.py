"""Every statement of the timesheets: a caregiver's delivered visits of a Korean month and the
caregivers who delivered any (the tariffs and holidays: shared.benefits.repository).

A visit belongs to the month of its check-in (server time) in Korea: [start, end) are the
timestamptz of Asia/Seoul midnights, computed by the caller. Delivered means checked out
(`completed`): its times are the record, corrections applied (an approved correction rewrites
them). Served by `visits_caregiver_check_in_idx` (migration 0015).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from shared.db import Cursor


class CaregiverRow(TypedDict):
    caregiver_id: int
    caregiver_name: str


class TimesheetVisitRow(TypedDict):
    visit_id: int
    caregiver_id: int
    patient_id: int
    patient_name: str
    check_in_at: datetime
    check_out_at: datetime
    needs_review: bool


def caregiver_of_user(cur: Cursor, user_id: int) -> CaregiverRow | None:
    """The caller's caregiver profile (id and name), or None without one."""
    cur.execute(
        """
        SELECT c.caregiver_id, u.name AS caregiver_name
        FROM caregivers c JOIN users u ON u.user_id = c.user_id
        WHERE c.user_id = %(user_id)s
        """,
        {"user_id": user_id},
    )
    return cast("CaregiverRow | None", cur.fetchone())


def caregivers_of_month(
    cur: Cursor,
    start: datetime,
    end: datetime,
    *,
    caregiver_id: int | None,
    limit: int | None,
    offset: int,
) -> tuple[list[CaregiverRow], int]:
    """Caregivers with a delivered visit checked into in [start, end), by id; and their count."""
    cur.execute(
        """
        WITH worked AS (
            SELECT DISTINCT v.caregiver_id FROM visits v
            WHERE v.status = 'completed'
              AND v.check_in_at >= %(start)s AND v.check_in_at < %(end)s
              AND (%(caregiver_id)s::bigint IS NULL OR v.caregiver_id = %(caregiver_id)s)
        )
        SELECT w.caregiver_id, u.name AS caregiver_name, count(*) OVER () AS total
        FROM worked w
        JOIN caregivers c ON c.caregiver_id = w.caregiver_id
        JOIN users u ON u.user_id = c.user_id
        ORDER BY w.caregiver_id
        LIMIT %(limit)s OFFSET %(offset)s
        """,
        {
            "start": start,
            "end": end,
            "caregiver_id": caregiver_id,
            "limit": limit,
            "offset": offset,
        },
    )
    rows = cur.fetchall()
    total = int(rows[0]["total"]) if rows else 0
    return [
        {"caregiver_id": r["caregiver_id"], "caregiver_name": r["caregiver_name"]} for r in rows
    ], total


def caregiver_named(cur: Cursor, caregiver_id: int) -> CaregiverRow | None:
    cur.execute(
        """
        SELECT c.caregiver_id, u.name AS caregiver_name
        FROM caregivers c JOIN users u ON u.user_id = c.user_id
        WHERE c.caregiver_id = %(id)s
        """,
        {"id": caregiver_id},
    )
    return cast("CaregiverRow | None", cur.fetchone())


def delivered_visits(
    cur: Cursor, caregiver_ids: list[int], start: datetime, end: datetime
) -> list[TimesheetVisitRow]:
    """The caregivers' delivered visits checked into in [start, end), by caregiver and time."""
    if not caregiver_ids:
        return []
    cur.execute(
        """
        SELECT v.visit_id, v.caregiver_id, v.patient_id, p.name AS patient_name,
               v.check_in_at, v.check_out_at, (v.needs_review AND v.reviewed_at IS NULL)
                   AS needs_review
        FROM visits v JOIN patients p ON p.patient_id = v.patient_id
        WHERE v.caregiver_id = ANY(%(ids)s) AND v.status = 'completed'
          AND v.check_in_at >= %(start)s AND v.check_in_at < %(end)s
        ORDER BY v.caregiver_id, v.check_in_at, v.visit_id
        """,
        {"ids": caregiver_ids, "start": start, "end": end},
    )
    return cast("list[TimesheetVisitRow]", cur.fetchall())
