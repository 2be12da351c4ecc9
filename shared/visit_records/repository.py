"""Every statement of the monthly visit record: what a month's record is built from.

A month is Korea's: visits by their planned start in [start, end), incidents by when they
happened, both bounds timestamptz computed from Asia/Seoul midnights by the caller.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict, cast

from shared.db import Cursor


class PatientRow(TypedDict):
    patient_id: int
    name: str
    birth_date: date
    care_level: str


class VisitRow(TypedDict):
    visit_id: int
    schedule_id: int
    caregiver_id: int
    caregiver_user_id: int
    caregiver_name: str
    status: str
    planned_start: datetime
    planned_end: datetime
    check_in_at: datetime | None
    check_out_at: datetime | None
    needs_review: bool
    reviewed_at: datetime | None
    summary: str | None
    condition_notes: dict[str, str]
    cancel_reason: str | None
    check_in_method: str | None
    check_out_method: str | None
    corrected: bool


class ActivityRow(TypedDict):
    care_log_id: int
    schedule_date: date
    category: str
    task_name: str
    scheduled_time: Any
    is_completed: bool
    outcome: str | None
    reason: str | None


class MedicationRow(TypedDict):
    visit_id: int
    medication_id: int
    name: str
    dosage: str | None
    outcome: str
    administered_at: datetime | None
    note: str | None
    planned_start: datetime


class IncidentRow(TypedDict):
    incident_id: int
    visit_id: int | None
    occurred_at: datetime
    kind: str
    severity: str
    description: str
    actions_taken: str | None
    follow_up_status: str


class AcknowledgementRow(TypedDict):
    user_id: int
    name: str
    role: str
    acknowledged_at: datetime


def patient(cur: Cursor, patient_id: int) -> PatientRow | None:
    cur.execute(
        "SELECT patient_id, name, birth_date, care_level FROM patients"
        " WHERE patient_id = %(patient_id)s",
        {"patient_id": patient_id},
    )
    return cast("PatientRow | None", cur.fetchone())


def visits(cur: Cursor, patient_id: int, start: datetime, end: datetime) -> list[VisitRow]:
    """The month's visits (every status), with each phase's evidence method and whether an
    approved correction changed it; by planned start."""
    cur.execute(
        """
        SELECT v.visit_id, v.schedule_id, v.caregiver_id, c.user_id AS caregiver_user_id,
               u.name AS caregiver_name, v.status, v.planned_start, v.planned_end,
               v.check_in_at, v.check_out_at, v.needs_review, v.reviewed_at, v.summary,
               v.condition_notes, v.cancel_reason,
               ein.method AS check_in_method, eout.method AS check_out_method,
               EXISTS (SELECT 1 FROM visit_corrections vc
                       WHERE vc.visit_id = v.visit_id AND vc.status = 'approved') AS corrected
        FROM visits v
        JOIN caregivers c ON c.caregiver_id = v.caregiver_id
        JOIN users u ON u.user_id = c.user_id
        LEFT JOIN visit_evidence ein ON ein.visit_id = v.visit_id AND ein.phase = 'check_in'
        LEFT JOIN visit_evidence eout ON eout.visit_id = v.visit_id AND eout.phase = 'check_out'
        WHERE v.patient_id = %(patient_id)s
          AND v.planned_start >= %(start)s AND v.planned_start < %(end)s
        ORDER BY v.planned_start, v.visit_id
        """,
        {"patient_id": patient_id, "start": start, "end": end},
    )
    return cast("list[VisitRow]", cur.fetchall())


def activities(cur: Cursor, patient_id: int, schedule_ids: list[int]) -> list[ActivityRow]:
    """The caregiver's care-log tasks of the schedules delivered by visits, once each, with the
    outcome a visit recorded (done wins over not done when two visits of a day recorded it)."""
    if not schedule_ids:
        return []
    cur.execute(
        """
        SELECT cl.care_log_id, s.schedule_date, cl.category, cl.task_name, cl.scheduled_time,
               cl.is_completed, vt.outcome, vt.reason
        FROM care_logs cl
        JOIN schedules s ON s.schedule_id = cl.schedule_id
        LEFT JOIN LATERAL (
            SELECT t.outcome, t.reason FROM visit_tasks t
            WHERE t.care_log_id = cl.care_log_id
            ORDER BY (t.outcome = 'done') DESC, t.recorded_at DESC
            LIMIT 1
        ) vt ON true
        WHERE cl.schedule_id = ANY(%(schedule_ids)s) AND cl.patient_id = %(patient_id)s
          AND cl.assignee = 'caregiver'
        ORDER BY s.schedule_date, cl.scheduled_time NULLS LAST, cl.care_log_id
        """,
        {"patient_id": patient_id, "schedule_ids": schedule_ids},
    )
    return cast("list[ActivityRow]", cur.fetchall())


def medications(cur: Cursor, patient_id: int, visit_ids: list[int]) -> list[MedicationRow]:
    if not visit_ids:
        return []
    cur.execute(
        """
        SELECT ma.visit_id, ma.medication_id, pm.name, pm.dosage, ma.outcome,
               ma.administered_at, ma.note, v.planned_start
        FROM medication_administrations ma
        JOIN patient_medications pm ON pm.medication_id = ma.medication_id
        JOIN visits v ON v.visit_id = ma.visit_id
        WHERE ma.patient_id = %(patient_id)s AND ma.visit_id = ANY(%(visit_ids)s)
        ORDER BY v.planned_start, ma.visit_id, pm.name, ma.medication_id
        """,
        {"patient_id": patient_id, "visit_ids": visit_ids},
    )
    return cast("list[MedicationRow]", cur.fetchall())


def incidents(cur: Cursor, patient_id: int, start: datetime, end: datetime) -> list[IncidentRow]:
    cur.execute(
        """
        SELECT incident_id, visit_id, occurred_at, kind, severity, description, actions_taken,
               follow_up_status
        FROM incidents
        WHERE patient_id = %(patient_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
        ORDER BY occurred_at, incident_id
        """,
        {"patient_id": patient_id, "start": start, "end": end},
    )
    return cast("list[IncidentRow]", cur.fetchall())


def acknowledgements(cur: Cursor, patient_id: int, month: date) -> list[AcknowledgementRow]:
    cur.execute(
        """
        SELECT a.user_id, u.name, a.role, a.acknowledged_at
        FROM visit_record_acknowledgements a JOIN users u ON u.user_id = a.user_id
        WHERE a.patient_id = %(patient_id)s AND a.month = %(month)s
        ORDER BY a.acknowledged_at, a.user_id
        """,
        {"patient_id": patient_id, "month": month},
    )
    return cast("list[AcknowledgementRow]", cur.fetchall())


def served_in_month(
    cur: Cursor, patient_id: int, caregiver_user_id: int, start: datetime, end: datetime
) -> bool:
    """Whether the caregiver (by user id) delivered a visit of the patient in the month."""
    cur.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM visits v JOIN caregivers c ON c.caregiver_id = v.caregiver_id
            WHERE v.patient_id = %(patient_id)s AND c.user_id = %(user_id)s
              AND v.status = 'completed'
              AND v.planned_start >= %(start)s AND v.planned_start < %(end)s
        ) AS served
        """,
        {"patient_id": patient_id, "user_id": caregiver_user_id, "start": start, "end": end},
    )
    row = cur.fetchone()
    return bool(row and row["served"])


def acknowledge(cur: Cursor, patient_id: int, month: date, user_id: int, role: str) -> None:
    """Record the acknowledgement; a second one by the same user keeps the first time."""
    cur.execute(
        """
        INSERT INTO visit_record_acknowledgements (patient_id, month, user_id, role)
        VALUES (%(patient_id)s, %(month)s, %(user_id)s, %(role)s)
        ON CONFLICT (patient_id, month, user_id) DO NOTHING
        """,
        {"patient_id": patient_id, "month": month, "user_id": user_id, "role": role},
    )


def patients_with_visits(
    cur: Cursor, start: datetime, end: datetime, after_patient_id: int, limit: int
) -> list[int]:
    """One batch of the patients with a visit planned in the month, by id after the last one."""
    cur.execute(
        """
        SELECT DISTINCT v.patient_id FROM visits v
        WHERE v.planned_start >= %(start)s AND v.planned_start < %(end)s
          AND v.patient_id > %(after)s
        ORDER BY v.patient_id
        LIMIT %(limit)s
        """,
        {"start": start, "end": end, "after": after_patient_id, "limit": limit},
    )
    return [row["patient_id"] for row in cur.fetchall()]
