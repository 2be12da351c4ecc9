"""Every statement of the benefit usage features: the patients whose month has delivered visits
(the statements timer, the cap alerts) and a month's planned visits and schedules (the cap
warnings' estimate). The pricing's own reads are shared.benefits.repository's.

A month is Korea's: [start, end) are the timestamptz of Asia/Seoul midnights (`Month.start`,
`Month.end`); a delivered visit belongs to the month of its check-in, a planned one to the month
of its planned start.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict, cast

from shared.db import Cursor
from shared.visit_records.builder import Month


class PlannedVisitRow(TypedDict):
    planned_start: datetime
    planned_end: datetime


def patients_with_visits(cur: Cursor, month: Month, after_patient_id: int, limit: int) -> list[int]:
    """One batch of the patients with a delivered visit checked into in the month, by id."""
    cur.execute(
        """
        SELECT DISTINCT v.patient_id FROM visits v
        WHERE v.status = 'completed'
          AND v.check_in_at >= %(start)s AND v.check_in_at < %(end)s
          AND v.patient_id > %(after)s
        ORDER BY v.patient_id
        LIMIT %(limit)s
        """,
        {"start": month.start, "end": month.end, "after": after_patient_id, "limit": limit},
    )
    return [row["patient_id"] for row in cur.fetchall()]


def planned_visits(cur: Cursor, patient_id: int, month: Month) -> list[PlannedVisitRow]:
    """The month's visits not delivered yet and still expected (planned, late, in progress)."""
    cur.execute(
        """
        SELECT planned_start, planned_end FROM visits
        WHERE patient_id = %(patient_id)s AND status IN ('planned', 'late', 'in_progress')
          AND planned_start >= %(start)s AND planned_start < %(end)s
        ORDER BY planned_start
        """,
        {"patient_id": patient_id, "start": month.start, "end": month.end},
    )
    return cast("list[PlannedVisitRow]", cur.fetchall())


def days_without_visits(cur: Cursor, patient_id: int, month: Month, *, today: date) -> list[date]:
    """Days of the month from `today` on with a schedule in force (`scheduled`) and no visit
    planned on it: care that is planned by day only."""
    cur.execute(
        """
        SELECT s.schedule_date FROM schedules s
        WHERE s.patient_id = %(patient_id)s AND s.status = 'scheduled'
          AND s.schedule_date BETWEEN %(first)s AND %(last)s
          AND s.schedule_date >= %(today)s
          AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.schedule_id = s.schedule_id)
        ORDER BY s.schedule_date
        """,
        {
            "patient_id": patient_id,
            "first": month.first_day,
            "last": month.last_day,
            "today": today,
        },
    )
    return [row["schedule_date"] for row in cur.fetchall()]


class VisitTimesRow(TypedDict):
    visit_id: int
    patient_id: int
    caregiver_id: int
    check_in_at: datetime
    check_out_at: datetime
    pending: bool


def profile_rows_on(cur: Cursor, patient_ids: list[int], day: date) -> dict[int, dict[str, object]]:
    """Each patient's long-term-care profile in force on `day` (the newest current row starting
    on or before it), as shared.benefits.repository.profile_on reads one; by patient id."""
    cur.execute(
        """
        SELECT DISTINCT ON (patient_id)
               profile_id, patient_id, grade, recognition_number, recognition_valid_from,
               recognition_valid_to, copay_percent, effective_from, note, superseded_at, created_at
        FROM ltc_profiles
        WHERE patient_id = ANY(%(ids)s) AND superseded_at IS NULL AND effective_from <= %(day)s
        ORDER BY patient_id, effective_from DESC
        """,
        {"ids": patient_ids, "day": day},
    )
    return {row["patient_id"]: dict(row) for row in cur.fetchall()}


def completed_visits_of(cur: Cursor, patient_ids: list[int], month: Month) -> list[VisitTimesRow]:
    """The patients' checked-out visits of the month (by check-in), as
    shared.benefits.repository.read_verified_visits reads one patient's; `pending`: recorded by
    hand and not yet reviewed (not counted)."""
    cur.execute(
        """
        SELECT visit_id, patient_id, caregiver_id, check_in_at, check_out_at,
               (needs_review AND reviewed_at IS NULL) AS pending
        FROM visits
        WHERE patient_id = ANY(%(ids)s) AND status = 'completed'
          AND check_in_at >= %(start)s AND check_in_at < %(end)s
          AND check_out_at IS NOT NULL
        ORDER BY patient_id, check_in_at, visit_id
        """,
        {"ids": patient_ids, "start": month.start, "end": month.end},
    )
    return cast("list[VisitTimesRow]", cur.fetchall())
