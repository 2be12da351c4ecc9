"""SQL of the matching area: requests, results, the lifecycle's row locks, offers.

The hard filters live beside this in `filters.py`; everything else the matching service reads or
writes is here, parameterised, a fixed number of statements per call (no N+1).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from psycopg2.extras import execute_values

_PERSONALITY = "ARRAY[p.empathy, p.activity, p.patience, p.independence]::float8[]"


def patient_profile(cur: Any, patient_id: int) -> dict[str, Any] | None:
    """What matching needs of a patient: region, care needs, conditions, personality."""
    cur.execute(
        f"""
        SELECT pt.patient_id, pt.region_code, pt.care_level, pt.mobility_status,
               pt.birth_date, pt.gender,
               (SELECT {_PERSONALITY} FROM patient_personality p
                 WHERE p.patient_id = pt.patient_id) AS personality,
               coalesce((SELECT array_agg(code ORDER BY code) FROM patient_conditions c
                          WHERE c.patient_id = pt.patient_id), '{{}}') AS conditions
        FROM patients pt WHERE pt.patient_id = %s
        """,  # noqa: S608  (constant SQL)
        (patient_id,),
    )
    return cur.fetchone()


def candidate_columns(cur: Any, caregiver_ids: Sequence[int]) -> dict[str, list[Any]]:
    """The scoring inputs of the caregivers, column by column, in the order of `caregiver_ids`.

    One row of parallel arrays instead of one row per caregiver: a thousand survivors cost one
    round of parsing, not a thousand dicts. Personality axes are NULL where there is none.
    """
    cur.execute(
        """
        WITH ids AS (
            SELECT caregiver_id, position
            FROM unnest(%s::bigint[]) WITH ORDINALITY AS ids(caregiver_id, position)
        ),
        specialties AS (
            SELECT s.caregiver_id, string_agg(s.code, ',') AS codes
            FROM caregiver_specialties s JOIN ids USING (caregiver_id)
            GROUP BY s.caregiver_id
        ),
        completed AS (
            SELECT m.caregiver_id, count(*) AS n
            FROM matching_results m JOIN ids USING (caregiver_id)
            WHERE m.status = 'completed'
            GROUP BY m.caregiver_id
        )
        SELECT array_agg(c.caregiver_id ORDER BY ids.position) AS caregiver_id,
               array_agg(c.service_region ORDER BY ids.position) AS service_region,
               array_agg(c.experience_years ORDER BY ids.position) AS experience_years,
               array_agg(c.hourly_rate ORDER BY ids.position) AS hourly_rate,
               array_agg(c.avg_rating::float8 ORDER BY ids.position) AS avg_rating,
               array_agg(c.total_reviews ORDER BY ids.position) AS total_reviews,
               array_agg(p.empathy ORDER BY ids.position) AS empathy,
               array_agg(p.activity ORDER BY ids.position) AS activity,
               array_agg(p.patience ORDER BY ids.position) AS patience,
               array_agg(p.independence ORDER BY ids.position) AS independence,
               array_agg(coalesce(sp.codes, '') ORDER BY ids.position) AS specialties,
               array_agg(coalesce(done.n, 0) ORDER BY ids.position) AS completed_matchings
        FROM ids
        JOIN caregivers c ON c.caregiver_id = ids.caregiver_id
        LEFT JOIN caregiver_personality p ON p.caregiver_id = c.caregiver_id
        LEFT JOIN specialties sp ON sp.caregiver_id = c.caregiver_id
        LEFT JOIN completed done ON done.caregiver_id = c.caregiver_id
        """,
        (list(caregiver_ids),),
    )
    row = cur.fetchone()
    return {key: list(value or []) for key, value in row.items()}


def platform_mean_rating(cur: Any) -> float:
    """The mean rating of caregivers with reviews: the prior ratings are shrunk toward."""
    cur.execute(
        "SELECT coalesce(sum(avg_rating * total_reviews) / nullif(sum(total_reviews), 0), 4.0)"
        "::float8 AS mean FROM caregivers WHERE total_reviews > 0"
    )
    return float(cur.fetchone()["mean"])


def insert_request(
    cur: Any,
    *,
    patient_id: int,
    requested_by: int,
    body: Any,
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
    return cur.fetchone()["request_id"]


def insert_results(
    cur: Any, request_id: int, patient_id: int, rows: Sequence[dict[str, Any]]
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
    by_rank = {r["rank"]: r["matching_id"] for r in inserted}
    return [by_rank[row["rank"]] for row in rows]


_RESULT_COLUMNS = """
    m.matching_id, m.request_id, m.patient_id, m.caregiver_id, m.rank, m.score::float8 AS score,
    m.grade, m.reasons, m.status, m.contract_start_date, m.contract_end_date, m.status_changed_at
"""


def list_results(
    cur: Any, patient_id: int, *, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A patient's results, newest request first and best first within a request."""
    where = (
        "WHERE m.patient_id = %(patient_id)s"
        " AND (%(status)s::text IS NULL OR m.status = %(status)s)"
    )
    params = {"patient_id": patient_id, "status": status, "limit": limit, "offset": offset}
    cur.execute(f"SELECT count(*) AS total FROM matching_results m {where}", params)  # noqa: S608
    total = cur.fetchone()["total"]
    cur.execute(
        f"SELECT {_RESULT_COLUMNS} FROM matching_results m {where}"  # noqa: S608
        " ORDER BY m.request_id DESC, m.rank NULLS LAST, m.matching_id"
        " LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return cur.fetchall(), total


def lock_matching(cur: Any, matching_id: int) -> dict[str, Any] | None:
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
    return cur.fetchone()


def request_has_selection(cur: Any, request_id: int) -> bool:
    """Whether the request already has a selected or active matching."""
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM matching_results WHERE request_id = %s"
        " AND status IN ('selected', 'active')) AS taken",
        (request_id,),
    )
    return bool(cur.fetchone()["taken"])


def lock_caregiver(cur: Any, caregiver_id: int) -> None:
    """Serialise a caregiver's accepts, so two overlapping ones cannot both pass `booked`."""
    cur.execute("SELECT 1 FROM caregivers WHERE caregiver_id = %s FOR UPDATE", (caregiver_id,))


def set_status(
    cur: Any, matching_id: int, status: str, *, set_contract: bool = False
) -> dict[str, Any]:
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
    return cur.fetchone()


def offers_for(cur: Any, caregiver_id: int) -> list[dict[str, Any]]:
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
    return cur.fetchall()
