"""All SQL of visits' planning, check-in/out, cancellation, review and the home (tags and
location). Parameterised, nothing else; rows as the TypedDicts below.

The constraints that can still refuse a change after the service's own checks (a race) are
registered with what they mean (shared.integrity): above all the partial unique index that keeps
a caregiver in one visit at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TypedDict, cast

from psycopg2.extras import Json

from shared.db import Cursor
from shared.integrity import ConflictRule, FieldRule, register_constraints
from shared.visits.evidence import AcceptedEvidence

register_constraints(
    {
        "visits_one_in_progress_per_caregiver": ConflictRule(
            "The caregiver is already in another visit; check out of it first."
        ),
        "home_tags_active_uid_key": ConflictRule(
            "This NFC tag is already registered (active) to a home."
        ),
        "home_tags_tag_uid_check": FieldRule("tag_uid"),
        "visits_planned_order": FieldRule("planned_end", "must be after planned_start"),
        "visits_planned_length": FieldRule("planned_end", "a visit lasts at most 24 hours"),
        "visits_length": ConflictRule("A visit lasts at most 24 hours."),
        "visits_check_order": ConflictRule("A visit cannot end before it starts."),
        "visits_summary_check": FieldRule("summary"),
        "visits_cancel_reason_check": FieldRule("reason"),
        "visit_evidence_reason_check": FieldRule("reason"),
        "visit_evidence_pkey": ConflictRule("This phase of the visit is already recorded."),
    }
)


class VisitRow(TypedDict):
    visit_id: int
    patient_id: int
    schedule_id: int
    matching_id: int
    caregiver_id: int
    caregiver_name: str | None
    planned_start: datetime
    planned_end: datetime
    status: str
    check_in_at: datetime | None
    check_out_at: datetime | None
    late_at: datetime | None
    missed_at: datetime | None
    needs_review: bool
    reviewed_by: int | None
    reviewed_at: datetime | None
    summary: str | None
    condition_notes: dict[str, str]
    locked_at: datetime | None
    cancelled_at: datetime | None
    cancelled_by: int | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


class EvidenceRow(TypedDict):
    visit_id: int
    phase: str
    method: str
    recorded_at: datetime
    device_time: datetime | None
    tag_id: int | None
    tag_label: str | None
    tag_uid: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    accuracy_m: Decimal | None
    distance_m: Decimal | None
    reason: str | None


class ScheduleFacts(TypedDict):
    schedule_id: int
    patient_id: int
    schedule_date: date
    status: str


class MatchingFacts(TypedDict):
    matching_id: int
    caregiver_id: int


class TagRow(TypedDict):
    tag_id: int
    patient_id: int
    tag_uid: str
    label: str | None
    active: bool
    registered_by: int | None
    created_at: datetime
    updated_at: datetime


_VISIT_COLUMNS = """
    v.visit_id, v.patient_id, v.schedule_id, v.matching_id, v.caregiver_id,
    u.name AS caregiver_name, v.planned_start, v.planned_end, v.status, v.check_in_at,
    v.check_out_at, v.late_at, v.missed_at, v.needs_review, v.reviewed_by, v.reviewed_at,
    v.summary, v.condition_notes, v.locked_at, v.cancelled_at, v.cancelled_by, v.cancel_reason,
    v.created_at, v.updated_at
"""
_VISIT_FROM = """
FROM visits v
JOIN caregivers c ON c.caregiver_id = v.caregiver_id
JOIN users u ON u.user_id = c.user_id
"""
_TAG_COLUMNS = "tag_id, patient_id, tag_uid, label, active, registered_by, created_at, updated_at"


# -- reading ---------------------------------------------------------------------------------


def get_visit(cur: Cursor, visit_id: int) -> VisitRow | None:
    cur.execute(
        f"SELECT {_VISIT_COLUMNS} {_VISIT_FROM} WHERE v.visit_id = %(visit_id)s",
        {"visit_id": visit_id},
    )
    return cast(VisitRow | None, cur.fetchone())


def patient_visits(
    cur: Cursor,
    patient_id: int,
    *,
    first: date | None,
    last: date | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[VisitRow], int]:
    """A page of one patient's visits by planned start (Korea dates `first`..`last`), and the
    count of all that match."""
    cur.execute(
        f"""
        SELECT {_VISIT_COLUMNS}, count(*) OVER () AS total_count
        {_VISIT_FROM}
        WHERE v.patient_id = %(patient_id)s
          AND (%(first)s::date IS NULL
               OR v.planned_start >= (%(first)s::date)::timestamp AT TIME ZONE 'Asia/Seoul')
          AND (%(last)s::date IS NULL
               OR v.planned_start < (%(last)s::date + 1)::timestamp AT TIME ZONE 'Asia/Seoul')
          AND (%(status)s::text IS NULL OR v.status = %(status)s)
        ORDER BY v.planned_start, v.visit_id
        LIMIT %(limit)s OFFSET %(offset)s
        """,
        {
            "patient_id": patient_id,
            "first": first,
            "last": last,
            "status": status,
            "limit": limit,
            "offset": offset,
        },
    )
    return _page(cur)


def review_queue(
    cur: Cursor, *, needs_review: bool | None, status: str | None, limit: int, offset: int
) -> tuple[list[VisitRow], int]:
    """Visits of every patient for operators: `needs_review` true is the flagged ones not yet
    reviewed (oldest first), false the others, None all."""
    cur.execute(
        f"""
        SELECT {_VISIT_COLUMNS}, count(*) OVER () AS total_count
        {_VISIT_FROM}
        WHERE (%(needs_review)s::boolean IS NULL
               OR (v.needs_review AND v.reviewed_at IS NULL) = %(needs_review)s)
          AND (%(status)s::text IS NULL OR v.status = %(status)s)
        ORDER BY v.planned_start, v.visit_id
        LIMIT %(limit)s OFFSET %(offset)s
        """,
        {"needs_review": needs_review, "status": status, "limit": limit, "offset": offset},
    )
    return _page(cur)


def _page(cur: Cursor) -> tuple[list[VisitRow], int]:
    """The fetched page and the count that came with it (a page past the end counts 0)."""
    rows = cur.fetchall()
    total = int(rows[0]["total_count"]) if rows else 0
    for row in rows:
        del row["total_count"]
    return cast(list[VisitRow], rows), total


def evidence_of(cur: Cursor, visit_ids: Sequence[int]) -> list[EvidenceRow]:
    if not visit_ids:
        return []
    cur.execute(
        """
        SELECT e.visit_id, e.phase, e.method, e.recorded_at, e.device_time, e.tag_id,
               t.label AS tag_label, t.tag_uid, e.latitude, e.longitude, e.accuracy_m,
               e.distance_m, e.reason
        FROM visit_evidence e LEFT JOIN home_tags t ON t.tag_id = e.tag_id
        WHERE e.visit_id = ANY(%(ids)s)
        ORDER BY e.visit_id, e.recorded_at
        """,
        {"ids": list(visit_ids)},
    )
    return cast(list[EvidenceRow], cur.fetchall())


def server_now(cur: Cursor) -> datetime:
    """The database's time of this transaction: the record's clock."""
    cur.execute("SELECT now() AS now")
    row = cur.fetchone()
    assert row is not None
    return cast(datetime, row["now"])


# -- planning --------------------------------------------------------------------------------


def schedule_facts(cur: Cursor, schedule_id: int) -> ScheduleFacts | None:
    cur.execute(
        "SELECT schedule_id, patient_id, schedule_date, status FROM schedules"
        " WHERE schedule_id = %(id)s",
        {"id": schedule_id},
    )
    return cast(ScheduleFacts | None, cur.fetchone())


def active_matchings(cur: Cursor, patient_id: int) -> list[MatchingFacts]:
    cur.execute(
        "SELECT matching_id, caregiver_id FROM matching_results"
        " WHERE patient_id = %(patient_id)s AND status = 'active' ORDER BY matching_id",
        {"patient_id": patient_id},
    )
    return cast(list[MatchingFacts], cur.fetchall())


def insert_visit(
    cur: Cursor,
    *,
    schedule_id: int,
    patient_id: int,
    matching: MatchingFacts,
    planned_start: datetime,
    planned_end: datetime,
    planned_by: int,
) -> int:
    cur.execute(
        """
        INSERT INTO visits (schedule_id, patient_id, matching_id, caregiver_id, planned_start,
                            planned_end, planned_by)
        VALUES (%(schedule_id)s, %(patient_id)s, %(matching_id)s, %(caregiver_id)s,
                %(planned_start)s, %(planned_end)s, %(planned_by)s)
        RETURNING visit_id
        """,
        {
            "schedule_id": schedule_id,
            "patient_id": patient_id,
            "matching_id": matching["matching_id"],
            "caregiver_id": matching["caregiver_id"],
            "planned_start": planned_start,
            "planned_end": planned_end,
            "planned_by": planned_by,
        },
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["visit_id"])


# -- check-in and check-out ------------------------------------------------------------------


def lock_caregiver(cur: Cursor, caregiver_id: int) -> None:
    """Serialise one caregiver's check-ins until this transaction ends, so two at once get the
    same clear answer (the partial unique index stays the guarantee)."""
    cur.execute(
        "SELECT caregiver_id FROM caregivers WHERE caregiver_id = %(id)s FOR NO KEY UPDATE",
        {"id": caregiver_id},
    )


def visit_in_progress_of(cur: Cursor, caregiver_id: int) -> int | None:
    """The caregiver's visit in progress, if any."""
    cur.execute(
        "SELECT visit_id FROM visits WHERE caregiver_id = %(id)s AND status = 'in_progress'",
        {"id": caregiver_id},
    )
    row = cur.fetchone()
    return int(row["visit_id"]) if row else None


def tag_by_uid(cur: Cursor, tag_uid: str) -> TagRow | None:
    """The tag with this uid: the active one if any, else the newest deactivated one."""
    cur.execute(
        f"SELECT {_TAG_COLUMNS} FROM home_tags WHERE tag_uid = %(uid)s"  # noqa: S608
        " ORDER BY active DESC, tag_id DESC LIMIT 1",
        {"uid": tag_uid},
    )
    return cast(TagRow | None, cur.fetchone())


def home_location(cur: Cursor, patient_id: int) -> tuple[float, float] | None:
    cur.execute(
        "SELECT home_latitude, home_longitude FROM patients WHERE patient_id = %(id)s",
        {"id": patient_id},
    )
    row = cur.fetchone()
    if row is None or row["home_latitude"] is None:
        return None
    return float(row["home_latitude"]), float(row["home_longitude"])


def insert_evidence(
    cur: Cursor,
    visit_id: int,
    phase: str,
    evidence: AcceptedEvidence,
    *,
    recorded_at: datetime,
    device_time: datetime | None,
) -> None:
    cur.execute(
        """
        INSERT INTO visit_evidence (visit_id, phase, method, recorded_at, device_time, tag_id,
                                    latitude, longitude, accuracy_m, distance_m, reason)
        VALUES (%(visit_id)s, %(phase)s, %(method)s, %(recorded_at)s, %(device_time)s,
                %(tag_id)s, %(latitude)s, %(longitude)s, %(accuracy_m)s, %(distance_m)s,
                %(reason)s)
        """,
        {
            "visit_id": visit_id,
            "phase": phase,
            "method": evidence.method.value,
            "recorded_at": recorded_at,
            "device_time": device_time,
            "tag_id": evidence.tag_id,
            "latitude": evidence.latitude,
            "longitude": evidence.longitude,
            "accuracy_m": evidence.accuracy_m,
            "distance_m": evidence.distance_m,
            "reason": evidence.reason,
        },
    )


def start_visit(cur: Cursor, visit_id: int, *, at: datetime, needs_review: bool) -> None:
    cur.execute(
        """
        UPDATE visits SET status = 'in_progress', check_in_at = %(at)s,
                          needs_review = needs_review OR %(needs_review)s
        WHERE visit_id = %(visit_id)s
        """,
        {"visit_id": visit_id, "at": at, "needs_review": needs_review},
    )


def complete_visit(
    cur: Cursor,
    visit_id: int,
    *,
    at: datetime,
    needs_review: bool,
    summary: str | None,
    condition_notes: dict[str, str],
) -> None:
    cur.execute(
        """
        UPDATE visits SET status = 'completed', check_out_at = %(at)s, locked_at = %(at)s,
                          needs_review = needs_review OR %(needs_review)s,
                          summary = %(summary)s, condition_notes = %(notes)s
        WHERE visit_id = %(visit_id)s
        """,
        {
            "visit_id": visit_id,
            "at": at,
            "needs_review": needs_review,
            "summary": summary,
            "notes": Json(condition_notes),
        },
    )


# -- cancel and review -----------------------------------------------------------------------


def cancel_visit(cur: Cursor, visit_id: int, *, by: int, reason: str) -> None:
    cur.execute(
        """
        UPDATE visits SET status = 'cancelled', cancelled_at = now(), cancelled_by = %(by)s,
                          cancel_reason = %(reason)s
        WHERE visit_id = %(visit_id)s
        """,
        {"visit_id": visit_id, "by": by, "reason": reason},
    )


def review_state(cur: Cursor, visit_id: int) -> tuple[bool, datetime | None]:
    cur.execute(
        "SELECT needs_review, reviewed_at FROM visits WHERE visit_id = %(id)s",
        {"id": visit_id},
    )
    row = cur.fetchone()
    assert row is not None
    return bool(row["needs_review"]), row["reviewed_at"]


def mark_reviewed(cur: Cursor, visit_id: int, *, by: int) -> None:
    cur.execute(
        "UPDATE visits SET reviewed_by = %(by)s, reviewed_at = now() WHERE visit_id = %(id)s",
        {"id": visit_id, "by": by},
    )


# -- the home --------------------------------------------------------------------------------


def insert_tag(
    cur: Cursor, patient_id: int, tag_uid: str, label: str | None, registered_by: int
) -> TagRow:
    cur.execute(
        f"""
        INSERT INTO home_tags (patient_id, tag_uid, label, registered_by)
        VALUES (%(patient_id)s, %(uid)s, %(label)s, %(by)s)
        RETURNING {_TAG_COLUMNS}
        """,  # noqa: S608  (constant fragments only)
        {"patient_id": patient_id, "uid": tag_uid, "label": label, "by": registered_by},
    )
    return cast(TagRow, cur.fetchone())


def patient_tags(
    cur: Cursor, patient_id: int, *, active: bool | None, limit: int, offset: int
) -> tuple[list[TagRow], int]:
    cur.execute(
        f"""
        SELECT {_TAG_COLUMNS}, count(*) OVER () AS total_count FROM home_tags
        WHERE patient_id = %(patient_id)s AND (%(active)s::boolean IS NULL OR active = %(active)s)
        ORDER BY active DESC, tag_id DESC
        LIMIT %(limit)s OFFSET %(offset)s
        """,  # noqa: S608  (constant fragments only)
        {"patient_id": patient_id, "active": active, "limit": limit, "offset": offset},
    )
    rows = cur.fetchall()
    total = int(rows[0]["total_count"]) if rows else 0
    for row in rows:
        del row["total_count"]
    return cast(list[TagRow], rows), total


def deactivate_tag(cur: Cursor, patient_id: int, tag_id: int) -> bool:
    """Deactivate the patient's tag (already inactive: unchanged); False if it is not theirs."""
    cur.execute(
        """
        UPDATE home_tags SET active = false
        WHERE tag_id = %(tag_id)s AND patient_id = %(patient_id)s
        RETURNING tag_id
        """,
        {"tag_id": tag_id, "patient_id": patient_id},
    )
    return cur.fetchone() is not None


def set_home_location(cur: Cursor, patient_id: int, latitude: float, longitude: float) -> None:
    cur.execute(
        """
        UPDATE patients SET home_latitude = %(lat)s, home_longitude = %(lon)s
        WHERE patient_id = %(id)s
        """,
        {"id": patient_id, "lat": latitude, "lon": longitude},
    )
