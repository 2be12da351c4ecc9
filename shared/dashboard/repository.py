"""SQL of the dashboard: one statement per panel, whatever the number of patients.

Every panel takes `today` (the Korean date) as a parameter rather than asking the server's
clock, so the service decides what "today" is and tests can pin it.

"The caregiver serves the patient" is shared.auth.care_relationships' rule: today's schedules
test it with `caregiver_holds_matching`; the assignments panel lists the serving matchings
themselves (it needs their columns), so it joins them, filtered by the same `SERVING` statuses.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypedDict, cast

from shared.auth.care_relationships import OFFERED, SERVING, caregiver_holds_matching
from shared.db import Cursor

#: The statuses in which a caregiver holds the patient (the guardian's "current matching").
_OFFERED = "(" + ", ".join(f"'{status.value}'" for status in OFFERED) + ")"

#: Confirmed schedules: drafts (unconfirmed AI plans) and cancelled days are not today's care.
_CONFIRMED = "('scheduled', 'completed')"
_AGE = "date_part('year', age(%(today)s::date, p.birth_date))::int AS age"
#: The matching statuses in which the caregiver serves the patient, as an SQL list.
_SERVING = "(" + ", ".join(f"'{status.value}'" for status in SERVING) + ")"


class GuardianPatientRow(TypedDict):
    """A guardian's patient with its current matching (all None without one) and today's
    task counts."""

    patient_id: int
    name: str
    age: int
    care_level: str
    matching_id: int | None
    caregiver_id: int | None
    caregiver_name: str | None
    matching_status: str | None
    contract_start_date: date | None
    contract_end_date: date | None
    today_total: int
    today_completed: int


class AssignmentRow(TypedDict):
    """A matching the caregiver serves, with the patient's summary and condition codes."""

    matching_id: int
    patient_id: int
    contract_start_date: date | None
    contract_end_date: date | None
    name: str
    age: int
    gender: str
    care_level: str
    mobility_status: str
    region_code: str
    conditions: list[str]


class TodayScheduleRow(TypedDict):
    """A confirmed schedule of today with its care-log counts."""

    schedule_id: int
    patient_id: int
    schedule_date: date
    status: str
    total: int
    completed: int


class StandingRow(TypedDict):
    """The caregiver's rating, review count and offers waiting for its answer."""

    caregiver_id: int
    avg_rating: Decimal
    total_reviews: int
    pending_offers: int


def guardian_patients(cur: Cursor, user_id: int, today: date) -> list[GuardianPatientRow]:
    """The guardian's patients, each with its current matching and today's task counts."""
    cur.execute(
        f"""
        SELECT p.patient_id, p.name, {_AGE}, p.care_level,
               cm.matching_id, cm.caregiver_id, cm.caregiver_name, cm.status AS matching_status,
               cm.contract_start_date, cm.contract_end_date,
               t.total AS today_total, t.completed AS today_completed
        FROM patients p
        JOIN guardians g ON g.guardian_id = p.guardian_id
        LEFT JOIN LATERAL (
            SELECT m.matching_id, m.caregiver_id, u.name AS caregiver_name, m.status,
                   m.contract_start_date, m.contract_end_date
            FROM matching_results m
            JOIN caregivers c ON c.caregiver_id = m.caregiver_id
            JOIN users u ON u.user_id = c.user_id
            WHERE m.patient_id = p.patient_id AND m.status IN {_OFFERED}
            ORDER BY m.status = 'active' DESC, m.status_changed_at DESC, m.matching_id DESC
            LIMIT 1
        ) cm ON true
        CROSS JOIN LATERAL (
            SELECT count(l.care_log_id) AS total,
                   count(l.care_log_id) FILTER (WHERE l.is_completed) AS completed
            FROM schedules s JOIN care_logs l ON l.schedule_id = s.schedule_id
            WHERE s.patient_id = p.patient_id AND s.schedule_date = %(today)s
              AND s.status IN {_CONFIRMED}
        ) t
        WHERE g.user_id = %(user_id)s
        ORDER BY p.created_at, p.patient_id
        """,  # noqa: S608  (constant fragments only)
        {"user_id": user_id, "today": today},
    )
    return cast(list[GuardianPatientRow], cur.fetchall())


def caregiver_assignments(cur: Cursor, user_id: int, today: date) -> list[AssignmentRow]:
    """The caregiver's active matchings, each with the patient's summary and conditions."""
    cur.execute(
        f"""
        SELECT m.matching_id, m.patient_id, m.contract_start_date, m.contract_end_date,
               p.name, {_AGE}, p.gender, p.care_level, p.mobility_status, p.region_code,
               ARRAY(SELECT pc.code FROM patient_conditions pc
                     WHERE pc.patient_id = p.patient_id ORDER BY pc.code) AS conditions
        FROM matching_results m
        JOIN caregivers c ON c.caregiver_id = m.caregiver_id
        JOIN patients p ON p.patient_id = m.patient_id
        WHERE c.user_id = %(user_id)s AND m.status IN {_SERVING}
        ORDER BY m.contract_start_date NULLS LAST, m.matching_id
        """,  # noqa: S608  (constant fragments only)
        {"user_id": user_id, "today": today},
    )
    return cast(list[AssignmentRow], cur.fetchall())


def caregiver_today_schedules(cur: Cursor, user_id: int, today: date) -> list[TodayScheduleRow]:
    """Today's confirmed schedules of the caregiver's actively matched patients, with counts."""
    cur.execute(
        f"""
        SELECT s.schedule_id, s.patient_id, s.schedule_date, s.status,
               count(l.care_log_id) AS total,
               count(l.care_log_id) FILTER (WHERE l.is_completed) AS completed
        FROM schedules s
        LEFT JOIN care_logs l ON l.schedule_id = s.schedule_id
        WHERE s.schedule_date = %(today)s AND s.status IN {_CONFIRMED}
          AND {caregiver_holds_matching("s.patient_id", "user_id")}
        GROUP BY s.schedule_id
        ORDER BY s.patient_id, s.schedule_id
        """,  # noqa: S608  (constant fragments only)
        {"user_id": user_id, "today": today},
    )
    return cast(list[TodayScheduleRow], cur.fetchall())


def caregiver_standing(cur: Cursor, user_id: int) -> StandingRow | None:
    """Rating, review count and waiting offers of the caregiver (None without a profile)."""
    cur.execute(
        """
        SELECT c.caregiver_id, c.avg_rating, c.total_reviews,
               (SELECT count(*) FROM matching_results m
                WHERE m.caregiver_id = c.caregiver_id AND m.status = 'selected') AS pending_offers
        FROM caregivers c
        WHERE c.user_id = %s
        """,
        (user_id,),
    )
    return cast(StandingRow | None, cur.fetchone())
