"""SQL of the dashboard: one statement per panel, whatever the number of patients.

Every panel takes `today` (the Korean date) as a parameter rather than asking the server's
clock, so the service decides what "today" is and tests can pin it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.auth.care_relationships import caregiver_holds_matching

#: Confirmed schedules: drafts (unconfirmed AI plans) and cancelled days are not today's care.
_CONFIRMED = "('scheduled', 'completed')"
_AGE = "date_part('year', age(%(today)s::date, p.birth_date))::int AS age"


def guardian_patients(cur: Any, user_id: int, today: date) -> list[dict[str, Any]]:
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
            WHERE m.patient_id = p.patient_id AND m.status IN ('active', 'selected')
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
    return cur.fetchall()


def caregiver_assignments(cur: Any, user_id: int, today: date) -> list[dict[str, Any]]:
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
        WHERE c.user_id = %(user_id)s AND m.status = 'active'
        ORDER BY m.contract_start_date NULLS LAST, m.matching_id
        """,  # noqa: S608  (constant fragments only)
        {"user_id": user_id, "today": today},
    )
    return cur.fetchall()


def caregiver_today_schedules(cur: Any, user_id: int, today: date) -> list[dict[str, Any]]:
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
    return cur.fetchall()


def caregiver_standing(cur: Any, user_id: int) -> dict[str, Any] | None:
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
    return cur.fetchone()
