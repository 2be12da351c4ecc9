"""SQL of the matching area: requests, results, the lifecycle's row locks, offers.

The hard filters live beside this in `filters.py`; everything else the matching service reads or
writes is here, parameterised, a fixed number of statements per call (no N+1). Rows come back
as the TypedDicts below. What the tables' constraints mean to a caller is registered here
(shared.integrity): the partial unique index that allows one selected or active caregiver per
request answers a concurrent second selection with the same 409 as the service's own check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import NotRequired, TypedDict, cast

from psycopg2.extras import execute_values

from models.matching import MatchingRequestIn
from shared.db import Cursor
from shared.integrity import ConflictRule, FieldRule, register_constraints
from shared.personality import axis_array

#: The 409 of a second selection of one request (the service's check, or the index in a race).
ALREADY_SELECTED = "This request already has a selected or active caregiver."

register_constraints(
    {
        "matching_results_one_selected_per_request": ConflictRule(ALREADY_SELECTED),
        "matching_requests_date_order": FieldRule("end_date"),
    }
)


class PatientProfileRow(TypedDict):
    """What matching needs of a patient (no name, address or contacts)."""

    patient_id: int
    region_code: str
    care_level: str
    mobility_status: str
    birth_date: date
    gender: str
    personality: list[float] | None  # shared.personality.AXES order; None before a test
    conditions: list[str]


class SlotJson(TypedDict):
    """A requested time slot as stored (jsonb): 'HH:MM' times."""

    start: str
    end: str


class NewResult(TypedDict):
    """One ranked caregiver to store as a `recommended` result."""

    caregiver_id: int
    rank: int
    score: float
    grade: str
    reasons: list[str]
    personality_score: NotRequired[float | None]
    specialty_score: NotRequired[float | None]
    region_score: NotRequired[float | None]


class MatchResultRow(TypedDict):
    """A matching result (the columns of `MatchTransition`, plus rank, score and reasons)."""

    matching_id: int
    request_id: int
    patient_id: int
    caregiver_id: int
    rank: int | None
    score: float
    grade: str
    reasons: list[str]
    status: str
    contract_start_date: date | None
    contract_end_date: date | None
    status_changed_at: datetime


class LockedMatchingRow(MatchResultRow):
    """A result locked for a transition, with its request and both parties' user ids."""

    care_type: str
    days: list[str]
    time_slots: list[SlotJson]
    start_date: date
    end_date: date | None
    gender_preference: str
    min_experience_years: int
    required_specialties: list[str]
    max_hourly_rate: int | None
    region_code: str
    guardian_user_id: int
    caregiver_user_id: int


class OfferRow(TypedDict):
    """A selected matching waiting for the caregiver, with its request's days and slots."""

    matching_id: int
    request_id: int
    patient_id: int
    days: list[str]
    time_slots: list[SlotJson]
    start_date: date
    end_date: date | None


def patient_profile(cur: Cursor, patient_id: int) -> PatientProfileRow | None:
    """What matching needs of a patient: region, care needs, conditions, personality."""
    cur.execute(
        f"""
        SELECT pt.patient_id, pt.region_code, pt.care_level, pt.mobility_status,
               pt.birth_date, pt.gender,
               (SELECT {axis_array("p")} FROM patient_personality p
                 WHERE p.patient_id = pt.patient_id) AS personality,
               coalesce((SELECT array_agg(code ORDER BY code) FROM patient_conditions c
                          WHERE c.patient_id = pt.patient_id), '{{}}') AS conditions
        FROM patients pt WHERE pt.patient_id = %s
        """,  # noqa: S608  (constant SQL)
        (patient_id,),
    )
    return cast(PatientProfileRow | None, cur.fetchone())


#: The mean rating of caregivers with reviews, the prior ratings are shrunk toward (serving and
#: training use this one definition), from the counters migration 0009 maintains: the same
#: exact sums as over every caregiver, without reading every caregiver.
MEAN_RATING = "coalesce(sum(rating_sum) / nullif(sum(reviews), 0), 4.0)::float8"


def platform_mean_rating(cur: Cursor) -> float:
    """The platform's mean rating (`MEAN_RATING`)."""
    cur.execute(f"SELECT {MEAN_RATING} AS mean FROM caregiver_search_counts")  # noqa: S608
    row = cur.fetchone()
    assert row is not None  # an aggregate without GROUP BY returns one row
    return float(row["mean"])


def insert_request(
    cur: Cursor,
    *,
    patient_id: int,
    requested_by: int,
    body: MatchingRequestIn,
    model_kind: str,
    model_version: str,
    considered: int,
    excluded: dict[str, int],
) -> int:
    cur.execute(
        """
        INSERT INTO matching_requests (patient_id, requested_by, care_type, days, time_slots,
            start_date, end_date, gender_preference, min_experience_years, required_specialties,
            max_hourly_rate, top_k, model_kind, model_version, candidates_considered, excluded)
        VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
        RETURNING request_id
        """,
        (
            patient_id,
            requested_by,
            str(body.care_type),
            [str(d) for d in body.days],
            json.dumps([{"start": s.start, "end": s.end} for s in body.time_slots]),
            body.start_date,
            body.end_date,
            str(body.gender_preference),
            body.min_experience_years,
            [str(s) for s in body.required_specialties],
            body.max_hourly_rate,
            body.top_k,
            model_kind,
            model_version,
            considered,
            json.dumps(excluded),
        ),
    )
    row = cur.fetchone()
    assert row is not None  # INSERT ... RETURNING one row
    return int(row["request_id"])


def insert_results(
    cur: Cursor, request_id: int, patient_id: int, rows: Sequence[NewResult]
) -> list[int]:
    """One `recommended` result per row (caregiver_id, rank, score, grade, reasons).

    Returns the new matching ids in the order of `rows`."""
    if not rows:
        return []
    inserted = execute_values(
        cur,
        "INSERT INTO matching_results (request_id, patient_id, caregiver_id, rank, score, grade,"
        " reasons, personality_score, specialty_score, region_score) VALUES %s"
        " RETURNING matching_id, rank",
        [
            (
                request_id,
                patient_id,
                row["caregiver_id"],
                row["rank"],
                row["score"],
                row["grade"],
                json.dumps(row["reasons"], ensure_ascii=False),
                row.get("personality_score"),
                row.get("specialty_score"),
                row.get("region_score"),
            )
            for row in rows
        ],
        fetch=True,
    )
    by_rank = {int(r["rank"]): int(r["matching_id"]) for r in inserted}
    return [by_rank[row["rank"]] for row in rows]


_RESULT_COLUMNS = """
    m.matching_id, m.request_id, m.patient_id, m.caregiver_id, m.rank, m.score::float8 AS score,
    m.grade, m.reasons, m.status, m.contract_start_date, m.contract_end_date, m.status_changed_at
"""


def list_results(
    cur: Cursor, patient_id: int, *, status: str | None, limit: int, offset: int
) -> tuple[list[MatchResultRow], int]:
    """A patient's results, newest request first and best first within a request."""
    where = (
        "WHERE m.patient_id = %(patient_id)s"
        " AND (%(status)s::text IS NULL OR m.status = %(status)s)"
    )
    params = {"patient_id": patient_id, "status": status, "limit": limit, "offset": offset}
    cur.execute(f"SELECT count(*) AS total FROM matching_results m {where}", params)  # noqa: S608
    counted = cur.fetchone()
    assert counted is not None  # count(*) returns one row
    cur.execute(
        f"SELECT {_RESULT_COLUMNS} FROM matching_results m {where}"  # noqa: S608
        " ORDER BY m.request_id DESC, m.rank NULLS LAST, m.matching_id"
        " LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return cast(list[MatchResultRow], cur.fetchall()), int(counted["total"])


def lock_matching(cur: Cursor, matching_id: int) -> LockedMatchingRow | None:
    """The matching with its request and both parties' user ids, locked for a transition."""
    cur.execute(
        f"""
        SELECT {_RESULT_COLUMNS},
               q.care_type, q.days, q.time_slots, q.start_date, q.end_date,
               q.gender_preference, q.min_experience_years, q.required_specialties,
               q.max_hourly_rate, pt.region_code, g.user_id AS guardian_user_id,
               c.user_id AS caregiver_user_id
        FROM matching_results m
        JOIN matching_requests q ON q.request_id = m.request_id
        JOIN patients pt ON pt.patient_id = m.patient_id
        JOIN guardians g ON g.guardian_id = pt.guardian_id
        JOIN caregivers c ON c.caregiver_id = m.caregiver_id
        WHERE m.matching_id = %s
        FOR UPDATE OF m
        """,  # noqa: S608  (constant SQL)
        (matching_id,),
    )
    return cast(LockedMatchingRow | None, cur.fetchone())


def request_has_selection(cur: Cursor, request_id: int) -> bool:
    """Whether the request already has a selected or active matching."""
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM matching_results WHERE request_id = %s"
        " AND status IN ('selected', 'active')) AS taken",
        (request_id,),
    )
    row = cur.fetchone()
    assert row is not None  # SELECT EXISTS returns one row
    return bool(row["taken"])


def lock_caregiver(cur: Cursor, caregiver_id: int) -> None:
    """Serialise a caregiver's accepts, so two overlapping ones cannot both pass `booked`."""
    cur.execute("SELECT 1 FROM caregivers WHERE caregiver_id = %s FOR UPDATE", (caregiver_id,))


def set_status(
    cur: Cursor, matching_id: int, status: str, *, set_contract: bool = False
) -> MatchResultRow:
    """Move the (locked) matching to `status`; `set_contract` copies the request's dates."""
    cur.execute(
        f"""
        UPDATE matching_results m SET status = %(status)s, status_changed_at = now(),
            contract_start_date = CASE WHEN %(contract)s THEN q.start_date
                                       ELSE m.contract_start_date END,
            contract_end_date = CASE WHEN %(contract)s THEN q.end_date
                                     ELSE m.contract_end_date END
        FROM matching_requests q
        WHERE q.request_id = m.request_id AND m.matching_id = %(matching_id)s
        RETURNING {_RESULT_COLUMNS}
        """,  # noqa: S608  (constant SQL)
        {"status": status, "contract": set_contract, "matching_id": matching_id},
    )
    row = cur.fetchone()
    assert row is not None  # the caller holds the row's lock
    return cast(MatchResultRow, row)


def care_completed_between(cur: Cursor, patient_id: int, first: date, last: date) -> bool:
    """Whether a care log of the patient is completed on a scheduled or completed schedule
    dated `first`..`last` (what completing a matching requires: shared.matching.lifecycle)."""
    cur.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM care_logs l JOIN schedules s ON s.schedule_id = l.schedule_id
            WHERE l.patient_id = %s AND l.is_completed
              AND s.status IN ('scheduled', 'completed')
              AND s.schedule_date BETWEEN %s AND %s
        ) AS found
        """,
        (patient_id, first, last),
    )
    row = cur.fetchone()
    assert row is not None  # SELECT EXISTS returns one row
    return bool(row["found"])


def offers_for(cur: Cursor, caregiver_id: int) -> list[OfferRow]:
    """Selected matchings waiting for the caregiver, with their request's days and slots."""
    cur.execute(
        """
        SELECT m.matching_id, m.request_id, m.patient_id, q.days, q.time_slots, q.start_date,
               q.end_date
        FROM matching_results m
        JOIN matching_requests q ON q.request_id = m.request_id
        WHERE m.caregiver_id = %s AND m.status = 'selected'
        ORDER BY m.status_changed_at, m.matching_id
        """,
        (caregiver_id,),
    )
    return cast(list[OfferRow], cur.fetchall())
