"""All SQL of a visit's details: its task checklist, its medication administrations and the
corrections of its times. Parameterised, nothing else; rows as the TypedDicts below.

(The visit itself, its evidence and planning are shared.visits.repository's.)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypedDict, cast

from shared.db import Cursor
from shared.integrity import ConflictRule, FieldRule, register_constraints

register_constraints(
    {
        "visit_tasks_reason_check": FieldRule("reason"),
        "visit_tasks_not_done_reason": FieldRule("reason", "is required when not done"),
        "medication_administrations_note_check": FieldRule("note"),
        "medication_administrations_given_time": FieldRule(
            "administered_at", "is required when the dose was given"
        ),
        "visit_corrections_one_pending": ConflictRule(
            "This visit already has a correction awaiting approval."
        ),
        "visit_corrections_reason_text_check": FieldRule("reason_text"),
        "visit_corrections_other_needs_text": FieldRule(
            "reason_text", "is required with reason_code other"
        ),
        "visit_corrections_order": FieldRule("check_out_at", "must be after check_in_at"),
        "visit_corrections_decision_note_check": FieldRule("note"),
    }
)


# -- the checklist ---------------------------------------------------------------------------


class TaskRow(TypedDict):
    care_log_id: int
    category: str
    task_name: str
    scheduled_time: str | None
    is_completed: bool
    vitals: dict[str, Any] | None
    outcome: str | None
    recorded_via: Literal["checklist", "care_log"] | None
    reason: str | None
    recorded_by: int | None
    recorded_at: datetime | None
    done_at_other_visit: bool


#: The caregiver's tasks of the visit's schedule, with this visit's outcome: recorded on the
#: checklist, else `done` when the care log is completed (through the care-log API, another
#: visit of the same schedule, or a replayed offline write); and whether another visit of the
#: same schedule recorded it done.
_TASKS = """
SELECT l.care_log_id, l.category, l.task_name,
       to_char(l.scheduled_time, 'HH24:MI') AS scheduled_time, l.is_completed, l.vitals,
       coalesce(t.outcome, CASE WHEN l.is_completed THEN 'done' END) AS outcome,
       CASE WHEN t.outcome IS NOT NULL THEN 'checklist'
            WHEN l.is_completed THEN 'care_log' END AS recorded_via,
       t.reason, coalesce(t.recorded_by, l.completed_by) AS recorded_by,
       coalesce(t.recorded_at, l.completed_at) AS recorded_at,
       EXISTS (SELECT 1 FROM visit_tasks o
               WHERE o.care_log_id = l.care_log_id AND o.visit_id <> %(visit_id)s
                 AND o.outcome = 'done') AS done_at_other_visit
FROM care_logs l
LEFT JOIN visit_tasks t ON t.care_log_id = l.care_log_id AND t.visit_id = %(visit_id)s
WHERE l.schedule_id = %(schedule_id)s AND l.assignee = 'caregiver'
"""


def visit_tasks(cur: Cursor, visit_id: int, schedule_id: int) -> list[TaskRow]:
    cur.execute(
        _TASKS + " ORDER BY l.scheduled_time NULLS LAST, l.care_log_id",
        {"visit_id": visit_id, "schedule_id": schedule_id},
    )
    return cast(list[TaskRow], cur.fetchall())


def visit_task(cur: Cursor, visit_id: int, schedule_id: int, care_log_id: int) -> TaskRow | None:
    """One of the visit's tasks (None: not a caregiver task of the visit's schedule)."""
    cur.execute(
        _TASKS + " AND l.care_log_id = %(care_log_id)s FOR UPDATE OF l",
        {"visit_id": visit_id, "schedule_id": schedule_id, "care_log_id": care_log_id},
    )
    return cast(TaskRow | None, cur.fetchone())


def upsert_visit_task(
    cur: Cursor, visit_id: int, care_log_id: int, *, outcome: str, reason: str | None, user_id: int
) -> None:
    cur.execute(
        """
        INSERT INTO visit_tasks (visit_id, care_log_id, outcome, reason, recorded_by)
        VALUES (%(visit_id)s, %(care_log_id)s, %(outcome)s, %(reason)s, %(user_id)s)
        ON CONFLICT (visit_id, care_log_id) DO UPDATE
        SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
            recorded_by = EXCLUDED.recorded_by, recorded_at = now()
        """,
        {
            "visit_id": visit_id,
            "care_log_id": care_log_id,
            "outcome": outcome,
            "reason": reason,
            "user_id": user_id,
        },
    )


# -- medications -----------------------------------------------------------------------------


class VisitMedicationRow(TypedDict):
    medication_id: int
    name: str
    dosage: str | None
    frequency: str | None
    intake_method: str | None
    administration_id: int | None
    outcome: str | None
    administered_at: datetime | None
    note: str | None
    recorded_by: int | None
    updated_at: datetime | None


class AdministrationRow(TypedDict):
    administration_id: int
    visit_id: int
    patient_id: int
    medication_id: int
    medication_name: str
    outcome: str
    administered_at: datetime | None
    note: str | None
    recorded_by: int | None
    visit_planned_start: datetime
    created_at: datetime
    updated_at: datetime


_VISIT_MEDICATIONS = """
SELECT m.medication_id, m.name, m.dosage, m.frequency, m.intake_method,
       a.administration_id, a.outcome, a.administered_at, a.note, a.recorded_by, a.updated_at
FROM patient_medications m
LEFT JOIN medication_administrations a
       ON a.medication_id = m.medication_id AND a.visit_id = %(visit_id)s
WHERE m.patient_id = %(patient_id)s
"""


def visit_medications(cur: Cursor, visit_id: int, patient_id: int) -> list[VisitMedicationRow]:
    cur.execute(
        _VISIT_MEDICATIONS + " ORDER BY m.medication_id",
        {"visit_id": visit_id, "patient_id": patient_id},
    )
    return cast(list[VisitMedicationRow], cur.fetchall())


def visit_medication(
    cur: Cursor, visit_id: int, patient_id: int, medication_id: int
) -> VisitMedicationRow | None:
    cur.execute(
        _VISIT_MEDICATIONS + " AND m.medication_id = %(medication_id)s",
        {"visit_id": visit_id, "patient_id": patient_id, "medication_id": medication_id},
    )
    return cast(VisitMedicationRow | None, cur.fetchone())


def upsert_administration(
    cur: Cursor,
    *,
    visit_id: int,
    patient_id: int,
    medication_id: int,
    outcome: str,
    administered_at: datetime | None,
    note: str | None,
    user_id: int,
) -> None:
    cur.execute(
        """
        INSERT INTO medication_administrations
            (visit_id, patient_id, medication_id, outcome, administered_at, note, recorded_by)
        VALUES (%(visit_id)s, %(patient_id)s, %(medication_id)s, %(outcome)s,
                %(administered_at)s, %(note)s, %(user_id)s)
        ON CONFLICT (visit_id, medication_id) DO UPDATE
        SET outcome = EXCLUDED.outcome, administered_at = EXCLUDED.administered_at,
            note = EXCLUDED.note, recorded_by = EXCLUDED.recorded_by
        """,
        {
            "visit_id": visit_id,
            "patient_id": patient_id,
            "medication_id": medication_id,
            "outcome": outcome,
            "administered_at": administered_at,
            "note": note,
            "user_id": user_id,
        },
    )


_ADMINISTRATIONS = """
FROM medication_administrations a
JOIN visits v ON v.visit_id = a.visit_id
JOIN patient_medications m ON m.medication_id = a.medication_id
WHERE a.patient_id = %(patient_id)s
  AND v.patient_id = %(patient_id)s
  AND v.planned_start >= (%(first)s::date)::timestamp AT TIME ZONE 'Asia/Seoul'
  AND v.planned_start < (%(last)s::date + 1)::timestamp AT TIME ZONE 'Asia/Seoul'
"""


def patient_administrations(
    cur: Cursor, patient_id: int, first: date, last: date, *, limit: int, offset: int
) -> tuple[list[AdministrationRow], int]:
    """A patient's administrations at visits planned from `first` to `last` (Korea days)."""
    params = {"patient_id": patient_id, "first": first, "last": last}
    cur.execute("SELECT count(*) AS n " + _ADMINISTRATIONS, params)
    total = int(cast(dict[str, Any], cur.fetchone())["n"])
    cur.execute(
        """
        SELECT a.administration_id, a.visit_id, a.patient_id, a.medication_id,
               m.name AS medication_name, a.outcome, a.administered_at, a.note, a.recorded_by,
               v.planned_start AS visit_planned_start, a.created_at, a.updated_at
        """
        + _ADMINISTRATIONS
        + " ORDER BY v.planned_start, a.visit_id, a.medication_id"
        " LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": limit, "offset": offset},
    )
    return cast(list[AdministrationRow], cur.fetchall()), total


# -- corrections -----------------------------------------------------------------------------


class CorrectionRow(TypedDict):
    correction_id: int
    visit_id: int
    patient_id: int
    proposed_by: int | None
    reason_code: str
    reason_text: str | None
    proposed_check_in_at: datetime | None
    proposed_check_out_at: datetime | None
    previous_check_in_at: datetime | None
    previous_check_out_at: datetime | None
    status: str
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime
    updated_at: datetime


_CORRECTION_COLUMNS = """
    correction_id, visit_id, patient_id, proposed_by, reason_code, reason_text,
    proposed_check_in_at, proposed_check_out_at, previous_check_in_at, previous_check_out_at,
    status, decided_by, decided_at, decision_note, created_at, updated_at
"""


def insert_correction(
    cur: Cursor,
    *,
    visit_id: int,
    patient_id: int,
    user_id: int,
    reason_code: str,
    reason_text: str | None,
    check_in_at: datetime | None,
    check_out_at: datetime | None,
) -> CorrectionRow:
    cur.execute(
        f"""
        INSERT INTO visit_corrections (visit_id, patient_id, proposed_by, reason_code,
                                       reason_text, proposed_check_in_at, proposed_check_out_at)
        VALUES (%(visit_id)s, %(patient_id)s, %(user_id)s, %(reason_code)s, %(reason_text)s,
                %(check_in_at)s, %(check_out_at)s)
        RETURNING {_CORRECTION_COLUMNS}
        """,  # noqa: S608
        {
            "visit_id": visit_id,
            "patient_id": patient_id,
            "user_id": user_id,
            "reason_code": reason_code,
            "reason_text": reason_text,
            "check_in_at": check_in_at,
            "check_out_at": check_out_at,
        },
    )
    return cast(CorrectionRow, cur.fetchone())


def correction_patient_id(cur: Cursor, correction_id: int) -> int | None:
    cur.execute(
        "SELECT patient_id FROM visit_corrections WHERE correction_id = %s", (correction_id,)
    )
    row = cur.fetchone()
    return int(row["patient_id"]) if row else None


def get_correction(cur: Cursor, correction_id: int, *, for_update: bool = False) -> CorrectionRow:
    cur.execute(
        f"SELECT {_CORRECTION_COLUMNS} FROM visit_corrections WHERE correction_id = %s"  # noqa: S608
        + (" FOR UPDATE" if for_update else ""),
        (correction_id,),
    )
    return cast(CorrectionRow, cur.fetchone())


def patient_corrections(
    cur: Cursor, patient_id: int, status: str | None, *, limit: int, offset: int
) -> tuple[list[CorrectionRow], int]:
    params = {"patient_id": patient_id, "status": status, "limit": limit, "offset": offset}
    where = (
        "WHERE patient_id = %(patient_id)s"
        " AND (%(status)s::text IS NULL OR status = %(status)s::text)"
    )
    cur.execute(f"SELECT count(*) AS n FROM visit_corrections {where}", params)  # noqa: S608
    total = int(cast(dict[str, Any], cur.fetchone())["n"])
    cur.execute(
        f"SELECT {_CORRECTION_COLUMNS} FROM visit_corrections {where}"  # noqa: S608
        " ORDER BY created_at DESC, correction_id DESC LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return cast(list[CorrectionRow], cur.fetchall()), total


def decide_correction(
    cur: Cursor,
    correction_id: int,
    *,
    status: str,
    user_id: int,
    note: str | None,
    previous_check_in_at: datetime | None = None,
    previous_check_out_at: datetime | None = None,
) -> CorrectionRow:
    cur.execute(
        f"""
        UPDATE visit_corrections
        SET status = %(status)s, decided_by = %(user_id)s, decided_at = now(),
            decision_note = %(note)s,
            previous_check_in_at = %(previous_in)s, previous_check_out_at = %(previous_out)s
        WHERE correction_id = %(correction_id)s
        RETURNING {_CORRECTION_COLUMNS}
        """,  # noqa: S608
        {
            "correction_id": correction_id,
            "status": status,
            "user_id": user_id,
            "note": note,
            "previous_in": previous_check_in_at,
            "previous_out": previous_check_out_at,
        },
    )
    return cast(CorrectionRow, cur.fetchone())


def overlapping_visit(
    cur: Cursor, caregiver_id: int, visit_id: int, start: datetime, end: datetime
) -> int | None:
    """Another visit of the caregiver whose recorded time meets [start, end) (one still in
    progress runs on), or None."""
    cur.execute(
        """
        SELECT visit_id FROM visits
        WHERE caregiver_id = %(caregiver_id)s AND visit_id <> %(visit_id)s
          AND check_in_at IS NOT NULL AND status IN ('in_progress', 'completed')
          AND check_in_at < %(end)s AND coalesce(check_out_at, 'infinity') > %(start)s
        ORDER BY check_in_at LIMIT 1
        """,
        {"caregiver_id": caregiver_id, "visit_id": visit_id, "start": start, "end": end},
    )
    row = cur.fetchone()
    return int(row["visit_id"]) if row else None


def apply_times(cur: Cursor, visit_id: int, check_in_at: datetime, check_out_at: datetime) -> None:
    """An approved correction's times: the visit is completed and (still, or now) locked."""
    cur.execute(
        """
        UPDATE visits
        SET check_in_at = %(check_in_at)s, check_out_at = %(check_out_at)s,
            status = 'completed', locked_at = coalesce(locked_at, now())
        WHERE visit_id = %(visit_id)s
        """,
        {"visit_id": visit_id, "check_in_at": check_in_at, "check_out_at": check_out_at},
    )


def server_now(cur: Cursor) -> datetime:
    cur.execute("SELECT now() AS now")
    return cast(datetime, cast(dict[str, Any], cur.fetchone())["now"])
