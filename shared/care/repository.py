"""All SQL of schedules, care logs and care reports. Parameterised, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from psycopg2.extras import Json

from shared.auth.care_relationships import caregiver_holds_matching

#: Schedules whose care counts in reports: confirmed days, not drafts nor cancelled ones.
COUNTED_SCHEDULE_STATUSES = ["scheduled", "completed"]
#: Readings reports summarise, in the order they are shown.
VITAL_KEYS = ["systolic", "diastolic", "pulse", "temperature_c", "blood_sugar"]

_SCHEDULE_COLUMNS = "s.schedule_id, s.patient_id, s.schedule_date, s.status, s.care_plan_id"
_CARE_LOG_COLUMNS = """
    l.care_log_id, l.schedule_id, l.patient_id, l.category, l.task_name,
    to_char(l.scheduled_time, 'HH24:MI') AS scheduled_time, l.assignee, l.is_completed,
    l.completed_at, l.completed_by, l.note, l.vitals
"""
_REPORT_COLUMNS = """
    report_id, patient_id, report_type, start_date, end_date, medication_completion_rate,
    meal_completion_rate, overall_completion_rate, completion_by_category, vitals, summary,
    suggestions, source, created_at
"""


# -- schedules -------------------------------------------------------------------------------


def schedule_patient_id(cur: Any, schedule_id: int) -> int | None:
    cur.execute("SELECT patient_id FROM schedules WHERE schedule_id = %s", (schedule_id,))
    row = cur.fetchone()
    return row["patient_id"] if row else None


def other_active_schedule(
    cur: Any, patient_id: int, schedule_date: date, *, excluding: int | None = None
) -> int | None:
    """The id of another `scheduled` or `completed` schedule of the patient on that day."""
    cur.execute(
        """
        SELECT schedule_id FROM schedules
        WHERE patient_id = %(patient_id)s AND schedule_date = %(day)s
          AND status IN ('scheduled', 'completed')
          AND (%(excluding)s::bigint IS NULL OR schedule_id <> %(excluding)s)
        ORDER BY schedule_id LIMIT 1
        """,
        {"patient_id": patient_id, "day": schedule_date, "excluding": excluding},
    )
    row = cur.fetchone()
    return row["schedule_id"] if row else None


def insert_schedule(cur: Any, patient_id: int, schedule_date: date, status: str) -> int:
    cur.execute(
        "INSERT INTO schedules (patient_id, schedule_date, status) VALUES (%s, %s, %s)"
        " RETURNING schedule_id",
        (patient_id, schedule_date, status),
    )
    return cur.fetchone()["schedule_id"]


def get_schedule(cur: Any, schedule_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s WHERE s.schedule_id = %s{lock}",  # noqa: S608
        (schedule_id,),
    )
    return cur.fetchone()


def update_schedule_status(cur: Any, schedule_id: int, status: str) -> None:
    cur.execute("UPDATE schedules SET status = %s WHERE schedule_id = %s", (status, schedule_id))


def patient_schedules(
    cur: Any, patient_id: int, first: date, last: date, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One patient's schedules between two days (both included), by date, and their count."""
    params = {"patient_id": patient_id, "first": first, "last": last}
    where = "WHERE s.patient_id = %(patient_id)s AND s.schedule_date BETWEEN %(first)s AND %(last)s"
    cur.execute(f"SELECT count(*) AS total FROM schedules s {where}", params)  # noqa: S608
    total = cur.fetchone()["total"]
    cur.execute(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s {where}"  # noqa: S608
        " ORDER BY s.schedule_date, s.schedule_id LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": limit, "offset": offset},
    )
    return cur.fetchall(), total


def guardian_schedules_on(cur: Any, user_id: int, day: date) -> list[dict[str, Any]]:
    """Schedules on `day` of every patient the guardian owns."""
    cur.execute(
        f"""
        SELECT {_SCHEDULE_COLUMNS}
        FROM schedules s
        JOIN patients p ON p.patient_id = s.patient_id
        JOIN guardians g ON g.guardian_id = p.guardian_id
        WHERE g.user_id = %(user_id)s AND s.schedule_date = %(day)s
        ORDER BY s.patient_id, s.schedule_id
        """,  # noqa: S608
        {"user_id": user_id, "day": day},
    )
    return cur.fetchall()


def caregiver_schedules_on(cur: Any, user_id: int, day: date) -> list[dict[str, Any]]:
    """Schedules on `day` of every patient the caregiver holds an active matching with."""
    cur.execute(
        f"""
        SELECT {_SCHEDULE_COLUMNS}
        FROM schedules s
        WHERE s.schedule_date = %(day)s
          AND {caregiver_holds_matching("s.patient_id", "user_id")}
        ORDER BY s.patient_id, s.schedule_id
        """,  # noqa: S608
        {"user_id": user_id, "day": day},
    )
    return cur.fetchall()


# -- care logs -------------------------------------------------------------------------------


def care_logs_of(cur: Any, schedule_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The care logs of many schedules in one query, in the order of the day."""
    if not schedule_ids:
        return []
    cur.execute(
        f"""
        SELECT {_CARE_LOG_COLUMNS} FROM care_logs l
        WHERE l.schedule_id = ANY(%s)
        ORDER BY l.schedule_id, l.scheduled_time NULLS LAST, l.care_log_id
        """,  # noqa: S608
        (list(schedule_ids),),
    )
    return cur.fetchall()


def insert_care_log(
    cur: Any,
    *,
    schedule_id: int,
    patient_id: int,
    category: str,
    task_name: str,
    scheduled_time: Any,
    assignee: str,
    note: str | None,
) -> dict[str, Any]:
    cur.execute(
        f"""
        WITH l AS (
            INSERT INTO care_logs (schedule_id, patient_id, category, task_name, scheduled_time,
                                   assignee, note)
            VALUES (%(schedule_id)s, %(patient_id)s, %(category)s, %(task_name)s,
                    %(scheduled_time)s, %(assignee)s, %(note)s)
            RETURNING *
        )
        SELECT {_CARE_LOG_COLUMNS} FROM l
        """,  # noqa: S608
        {
            "schedule_id": schedule_id,
            "patient_id": patient_id,
            "category": category,
            "task_name": task_name,
            "scheduled_time": scheduled_time,
            "assignee": assignee,
            "note": note,
        },
    )
    return cur.fetchone()


def care_log_patient_id(cur: Any, care_log_id: int) -> int | None:
    cur.execute("SELECT patient_id FROM care_logs WHERE care_log_id = %s", (care_log_id,))
    row = cur.fetchone()
    return row["patient_id"] if row else None


def get_care_log_for_update(cur: Any, care_log_id: int) -> dict[str, Any] | None:
    """The care log, locked, with its schedule's status."""
    cur.execute(
        f"""
        SELECT {_CARE_LOG_COLUMNS}, s.status AS schedule_status
        FROM care_logs l JOIN schedules s ON s.schedule_id = l.schedule_id
        WHERE l.care_log_id = %s
        FOR UPDATE OF l
        """,  # noqa: S608
        (care_log_id,),
    )
    return cur.fetchone()


def update_care_log(
    cur: Any,
    care_log_id: int,
    *,
    is_completed: bool,
    user_id: int,
    note: str | None,
    set_note: bool,
    vitals: dict[str, Any] | None,
    set_vitals: bool,
) -> dict[str, Any]:
    """Apply a completion: the first completion's time and author stay until un-completed."""
    cur.execute(
        f"""
        WITH l AS (
            UPDATE care_logs SET
                is_completed = %(done)s,
                completed_at = CASE WHEN NOT %(done)s THEN NULL
                                    ELSE coalesce(completed_at, now()) END,
                completed_by = CASE WHEN NOT %(done)s THEN NULL
                                    WHEN is_completed THEN completed_by
                                    ELSE %(user_id)s END,
                note = CASE WHEN %(set_note)s THEN %(note)s ELSE note END,
                vitals = CASE WHEN %(set_vitals)s THEN %(vitals)s::jsonb ELSE vitals END
            WHERE care_log_id = %(care_log_id)s
            RETURNING *
        )
        SELECT {_CARE_LOG_COLUMNS} FROM l
        """,  # noqa: S608
        {
            "care_log_id": care_log_id,
            "done": is_completed,
            "user_id": user_id,
            "note": note,
            "set_note": set_note,
            "vitals": Json(vitals) if vitals is not None else None,
            "set_vitals": set_vitals,
        },
    )
    return cur.fetchone()


# -- care reports ----------------------------------------------------------------------------


def completion_counts(cur: Any, patient_id: int, first: date, last: date) -> list[dict[str, Any]]:
    """Tasks and completed tasks per category, plus an overall row (category NULL), with the
    completion rate in percent (2 decimals), over the patient's confirmed schedules."""
    cur.execute(
        """
        SELECT CASE WHEN GROUPING(l.category) = 1 THEN NULL ELSE l.category END AS category,
               count(*) AS total,
               count(*) FILTER (WHERE l.is_completed) AS completed,
               -- nullif: with no logs at all, the overall row still exists (rate NULL)
               round(100.0 * count(*) FILTER (WHERE l.is_completed) / nullif(count(*), 0), 2)
                   AS rate
        FROM care_logs l
        JOIN schedules s ON s.schedule_id = l.schedule_id AND s.patient_id = l.patient_id
        WHERE l.patient_id = %(patient_id)s
          AND s.schedule_date BETWEEN %(first)s AND %(last)s
          AND s.status = ANY(%(statuses)s)
        GROUP BY GROUPING SETS ((l.category), ())
        ORDER BY GROUPING(l.category), l.category
        """,
        {
            "patient_id": patient_id,
            "first": first,
            "last": last,
            "statuses": COUNTED_SCHEDULE_STATUSES,
        },
    )
    return cur.fetchall()


def vital_stats(cur: Any, patient_id: int, first: date, last: date) -> list[dict[str, Any]]:
    """min/avg/max/count of each known reading in the period, one row per reading."""
    cur.execute(
        """
        SELECT v.key,
               min(v.value::numeric) AS min,
               round(avg(v.value::numeric), 2) AS avg,
               max(v.value::numeric) AS max,
               count(*) AS count
        FROM care_logs l
        JOIN schedules s ON s.schedule_id = l.schedule_id AND s.patient_id = l.patient_id
        CROSS JOIN LATERAL jsonb_each(l.vitals) AS v(key, value)
        WHERE l.patient_id = %(patient_id)s
          AND s.schedule_date BETWEEN %(first)s AND %(last)s
          AND s.status = ANY(%(statuses)s)
          AND l.vitals IS NOT NULL AND jsonb_typeof(l.vitals) = 'object'
          AND v.key = ANY(%(keys)s) AND jsonb_typeof(v.value) = 'number'
        GROUP BY v.key
        """,
        {
            "patient_id": patient_id,
            "first": first,
            "last": last,
            "statuses": COUNTED_SCHEDULE_STATUSES,
            "keys": VITAL_KEYS,
        },
    )
    return cur.fetchall()


def insert_report(cur: Any, report: dict[str, Any]) -> dict[str, Any]:
    cur.execute(
        f"""
        INSERT INTO care_reports (patient_id, report_type, start_date, end_date,
            medication_completion_rate, meal_completion_rate, overall_completion_rate,
            completion_by_category, vitals, summary, suggestions, source, created_by)
        VALUES (%(patient_id)s, %(report_type)s, %(start_date)s, %(end_date)s,
            %(medication_completion_rate)s, %(meal_completion_rate)s,
            %(overall_completion_rate)s, %(completion_by_category)s, %(vitals)s, %(summary)s,
            %(suggestions)s, %(source)s, %(created_by)s)
        RETURNING {_REPORT_COLUMNS}
        """,  # noqa: S608
        {
            **report,
            "completion_by_category": Json(report["completion_by_category"]),
            "vitals": Json(report["vitals"]),
            "suggestions": Json(report["suggestions"]),
        },
    )
    return cur.fetchone()


def patient_reports(
    cur: Any, patient_id: int, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The patient's care reports, newest first, and how many there are."""
    cur.execute("SELECT count(*) AS total FROM care_reports WHERE patient_id = %s", (patient_id,))
    total = cur.fetchone()["total"]
    cur.execute(
        f"SELECT {_REPORT_COLUMNS} FROM care_reports WHERE patient_id = %s"  # noqa: S608
        " ORDER BY created_at DESC, report_id DESC LIMIT %s OFFSET %s",
        (patient_id, limit, offset),
    )
    return cur.fetchall(), total
