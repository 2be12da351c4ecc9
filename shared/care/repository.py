"""All SQL of schedules, care logs and care reports. Parameterised, nothing else.

Rows come back as the TypedDicts below. The care log CHECKs the models repeat are registered
(shared.integrity): should a value slip past the models, the caller gets a 422 naming the
field it sent (`vitals`, `note`, `task_name`), not a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TypedDict, cast

from psycopg2.extras import Json, RealDictRow

from shared.auth.care_relationships import caregiver_holds_matching
from shared.db import Cursor
from shared.integrity import FieldRule, register_constraints

#: Schedules whose care counts in reports: confirmed days, not drafts nor cancelled ones.
COUNTED_SCHEDULE_STATUSES = ["scheduled", "completed"]
#: Readings reports summarise, in the order they are shown.
VITAL_KEYS = ["systolic", "diastolic", "pulse", "temperature_c", "blood_sugar"]

register_constraints(
    {
        "care_logs_vitals_check": FieldRule("vitals"),
        "care_logs_note_check": FieldRule("note"),
        "care_logs_task_name_check": FieldRule("task_name"),
    }
)

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


class ScheduleRow(TypedDict):
    schedule_id: int
    patient_id: int
    schedule_date: date
    status: str  # a ScheduleStatus code
    care_plan_id: int | None


class CareLogRow(TypedDict):
    care_log_id: int
    schedule_id: int
    patient_id: int
    category: str  # a CareLogCategory code
    task_name: str
    scheduled_time: str | None  # HH:MM
    assignee: str  # an Assignee code
    is_completed: bool
    completed_at: datetime | None
    completed_by: int | None
    note: str | None
    vitals: dict[str, float | None] | None


class LockedCareLogRow(CareLogRow):
    """A care log with its schedule's status (`get_care_log_for_update`)."""

    schedule_status: str  # a ScheduleStatus code


class CompletionRow(TypedDict):
    """Tasks of one category (`category` None: of all of them) and how many were completed."""

    category: str | None
    total: int
    completed: int
    rate: Decimal | None  # percent, 2 decimals; None without tasks


class VitalStatRow(TypedDict):
    key: str  # one of VITAL_KEYS
    min: Decimal
    avg: Decimal
    max: Decimal
    count: int


class VitalFigures(TypedDict):
    """A reading's figures as a report stores them (`care_reports.vitals`, per key)."""

    min: float
    avg: float
    max: float
    count: int


class NewReport(TypedDict):
    """What `insert_report` stores."""

    patient_id: int
    report_type: str  # a ReportType code
    start_date: date
    end_date: date
    medication_completion_rate: float | None
    meal_completion_rate: float | None
    overall_completion_rate: float | None
    completion_by_category: dict[str, float]
    vitals: dict[str, VitalFigures]
    summary: str
    suggestions: list[str]
    source: str  # "ai" or "template"
    created_by: int


class ReportRow(TypedDict):
    report_id: int
    patient_id: int
    report_type: str  # a ReportType code
    start_date: date
    end_date: date
    medication_completion_rate: Decimal | None
    meal_completion_rate: Decimal | None
    overall_completion_rate: Decimal | None
    completion_by_category: dict[str, float]
    vitals: dict[str, VitalFigures]
    summary: str
    suggestions: list[str]
    source: str
    created_at: datetime


def _one(cur: Cursor) -> RealDictRow:
    """The row of a statement that always returns one (an INSERT ... RETURNING)."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


def _count(cur: Cursor) -> int:
    """The `total` of the count(*) statement just executed."""
    return int(_one(cur)["total"])


# -- schedules -------------------------------------------------------------------------------


def schedule_patient_id(cur: Cursor, schedule_id: int) -> int | None:
    cur.execute("SELECT patient_id FROM schedules WHERE schedule_id = %s", (schedule_id,))
    row = cur.fetchone()
    return int(row["patient_id"]) if row else None


def other_active_schedule(
    cur: Cursor, patient_id: int, schedule_date: date, *, excluding: int | None = None
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
    return int(row["schedule_id"]) if row else None


def insert_schedule(cur: Cursor, patient_id: int, schedule_date: date, status: str) -> int:
    cur.execute(
        "INSERT INTO schedules (patient_id, schedule_date, status) VALUES (%s, %s, %s)"
        " RETURNING schedule_id",
        (patient_id, schedule_date, status),
    )
    return int(_one(cur)["schedule_id"])


def get_schedule(cur: Cursor, schedule_id: int, *, for_update: bool = False) -> ScheduleRow | None:
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s WHERE s.schedule_id = %s{lock}",  # noqa: S608
        (schedule_id,),
    )
    return cast(ScheduleRow | None, cur.fetchone())


def update_schedule_status(cur: Cursor, schedule_id: int, status: str) -> None:
    cur.execute("UPDATE schedules SET status = %s WHERE schedule_id = %s", (status, schedule_id))


def patient_schedules(
    cur: Cursor, patient_id: int, first: date, last: date, *, limit: int, offset: int
) -> tuple[list[ScheduleRow], int]:
    """One patient's schedules between two days (both included), by date, and their count."""
    params = {"patient_id": patient_id, "first": first, "last": last}
    where = "WHERE s.patient_id = %(patient_id)s AND s.schedule_date BETWEEN %(first)s AND %(last)s"
    cur.execute(f"SELECT count(*) AS total FROM schedules s {where}", params)  # noqa: S608
    total = _count(cur)
    cur.execute(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s {where}"  # noqa: S608
        " ORDER BY s.schedule_date, s.schedule_id LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": limit, "offset": offset},
    )
    return cast(list[ScheduleRow], cur.fetchall()), total


def guardian_schedules_on(cur: Cursor, user_id: int, day: date) -> list[ScheduleRow]:
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
    return cast(list[ScheduleRow], cur.fetchall())


def caregiver_schedules_on(cur: Cursor, user_id: int, day: date) -> list[ScheduleRow]:
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
    return cast(list[ScheduleRow], cur.fetchall())


# -- care logs -------------------------------------------------------------------------------


def care_logs_of(cur: Cursor, schedule_ids: Sequence[int]) -> list[CareLogRow]:
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
    return cast(list[CareLogRow], cur.fetchall())


def insert_care_log(
    cur: Cursor,
    *,
    schedule_id: int,
    patient_id: int,
    category: str,
    task_name: str,
    scheduled_time: time | str | None,
    assignee: str,
    note: str | None,
) -> CareLogRow:
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
    return cast(CareLogRow, _one(cur))


def care_log_patient_id(cur: Cursor, care_log_id: int) -> int | None:
    cur.execute("SELECT patient_id FROM care_logs WHERE care_log_id = %s", (care_log_id,))
    row = cur.fetchone()
    return int(row["patient_id"]) if row else None


def get_care_log_for_update(cur: Cursor, care_log_id: int) -> LockedCareLogRow | None:
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
    return cast(LockedCareLogRow | None, cur.fetchone())


def update_care_log(
    cur: Cursor,
    care_log_id: int,
    *,
    is_completed: bool,
    user_id: int,
    note: str | None,
    set_note: bool,
    vitals: Mapping[str, float] | None,
    set_vitals: bool,
) -> CareLogRow:
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
    return cast(CareLogRow, _one(cur))


# -- care reports ----------------------------------------------------------------------------


def completion_counts(cur: Cursor, patient_id: int, first: date, last: date) -> list[CompletionRow]:
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
        FROM schedules s
        -- A log's patient is its schedule's (care_logs_schedule_fkey): the schedule's patient
        -- and dates pick the logs, which are then counted from an index alone (migration 0010).
        JOIN care_logs l ON l.schedule_id = s.schedule_id
        WHERE s.patient_id = %(patient_id)s
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
    return cast(list[CompletionRow], cur.fetchall())


def vital_stats(cur: Cursor, patient_id: int, first: date, last: date) -> list[VitalStatRow]:
    """min/avg/max/count of each known reading in the period, one row per reading."""
    cur.execute(
        """
        SELECT v.key,
               min(v.value::numeric) AS min,
               round(avg(v.value::numeric), 2) AS avg,
               max(v.value::numeric) AS max,
               count(*) AS count
        FROM schedules s
        JOIN care_logs l ON l.schedule_id = s.schedule_id
        CROSS JOIN LATERAL jsonb_each(l.vitals) AS v(key, value)
        WHERE s.patient_id = %(patient_id)s
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
    return cast(list[VitalStatRow], cur.fetchall())


def insert_report(cur: Cursor, report: NewReport) -> ReportRow:
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
    return cast(ReportRow, _one(cur))


def patient_reports(
    cur: Cursor, patient_id: int, *, limit: int, offset: int
) -> tuple[list[ReportRow], int]:
    """The patient's care reports, newest first, and how many there are."""
    cur.execute("SELECT count(*) AS total FROM care_reports WHERE patient_id = %s", (patient_id,))
    total = _count(cur)
    cur.execute(
        f"SELECT {_REPORT_COLUMNS} FROM care_reports WHERE patient_id = %s"  # noqa: S608
        " ORDER BY created_at DESC, report_id DESC LIMIT %s OFFSET %s",
        (patient_id, limit, offset),
    )
    return cast(list[ReportRow], cur.fetchall()), total
