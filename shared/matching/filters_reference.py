"""The hard filters' definition, classifying every active caregiver from the source tables.

This is the statement matching ran before the filters read `caregiver_search` (filters.py): one
pass over every active caregiver of the country, each counted under the FIRST filter it fails
(API.md's order). It is kept as the reference the indexed plan must equal, row for row and
count for count: `tests/integration/test_matching_scale_equivalence.py` compares the two on a
varied dataset and `benchmarks/matching_latency.py` times it as the baseline. The service
never calls it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypedDict, cast

import numpy as np

from models.matching import FILTER_ORDER
from models.vocabularies import CAPITAL_AREA, CARE_TYPE_CERTIFICATIONS, CareType
from shared.db import Cursor
from shared.matching.filters import FilterInput, FilterOutcome
from shared.matching.profiles import Candidates
from shared.personality import axis_array

#: Caregivers holding an active matching that overlaps the request's dates, days and slots.
_BOOKED = """
SELECT DISTINCT m.caregiver_id
FROM matching_results m
JOIN matching_requests q ON q.request_id = m.request_id
WHERE m.status = 'active'
  AND daterange(coalesce(m.contract_start_date, q.start_date),
                coalesce(m.contract_end_date, q.end_date), '[]')
      && daterange(%(start_date)s::date, %(end_date)s::date, '[]')
  AND q.days && %(days)s::text[]
  AND EXISTS (
      SELECT 1
      FROM jsonb_array_elements(q.time_slots) AS held,
           jsonb_array_elements(%(slots)s::jsonb) AS asked
      WHERE (held ->> 'start')::time < (asked ->> 'end')::time
        AND (asked ->> 'start')::time < (held ->> 'end')::time
  )
"""

#: The condition under which a caregiver FAILS each filter (the keys are `FILTER_ORDER`'s).
_FAILS: dict[str, str] = {
    "certification": "ct.caregiver_id IS NULL",
    "region": (
        "NOT (split_part(c.service_region, '_', 1) = %(province)s"
        " OR (%(patient_in_capital)s"
        " AND split_part(c.service_region, '_', 1) = ANY(%(capital)s)))"
    ),
    "availability": "coalesce(cv.pairs, 0) < %(pair_count)s",
    "gender": "%(gender)s <> 'any' AND u.gender IS DISTINCT FROM %(gender)s",
    "experience": "c.experience_years < %(min_experience)s",
    "specialties": "coalesce(sp.n, 0) < %(required_count)s",
    "budget": "%(budget)s::int IS NOT NULL AND c.hourly_rate > %(budget)s",
    "booked": "EXISTS (SELECT 1 FROM booked b WHERE b.caregiver_id = c.caregiver_id)",
}


def failed_filter_case(order: Sequence[str] = FILTER_ORDER) -> str:
    """`CASE WHEN <fails the first> THEN 'first' ... END`: the first filter failed, in `order`
    (FILTER_ORDER, the one statement of the order), or NULL for a survivor."""
    if sorted(order) != sorted(_FAILS):
        raise ValueError(f"the filters {sorted(_FAILS)} have no order in {list(order)}")
    branches = " ".join(f"WHEN {_FAILS[name]} THEN '{name}'" for name in order)
    return f"CASE {branches} END"


_CLASSIFY = """
WITH req_pairs AS (
    SELECT DISTINCT d.day, s.start_t, s.end_t
    FROM unnest(%(days)s::text[]) AS d(day)
    CROSS JOIN LATERAL (
        SELECT (x ->> 'start')::time AS start_t, (x ->> 'end')::time AS end_t
        FROM jsonb_array_elements(%(slots)s::jsonb) AS x
    ) s
),
covered AS (
    -- Per requested (day, slot): the caregivers with one slot covering it, read through the
    -- (day, start_time, end_time) index; a caregiver passes when it covers every pair.
    SELECT hit.caregiver_id, count(*) AS pairs
    FROM req_pairs r
    CROSS JOIN LATERAL (
        SELECT DISTINCT a.caregiver_id
        FROM caregiver_availability a
        WHERE a.day = r.day AND a.start_time <= r.start_t AND a.end_time >= r.end_t
    ) hit
    GROUP BY hit.caregiver_id
),
certified AS (
    SELECT DISTINCT caregiver_id FROM caregiver_certifications WHERE code = ANY(%(certs)s)
),
specialised AS (
    SELECT caregiver_id, count(*) AS n FROM caregiver_specialties
    WHERE code = ANY(%(required)s) GROUP BY caregiver_id
),
booked AS (
{booked}
),
classified AS MATERIALIZED (
    SELECT c.caregiver_id,
           {case} AS failed
    FROM caregivers c
    JOIN users u ON u.user_id = c.user_id AND u.is_active AND u.deleted_at IS NULL
    LEFT JOIN certified ct ON ct.caregiver_id = c.caregiver_id
    LEFT JOIN covered cv ON cv.caregiver_id = c.caregiver_id
    LEFT JOIN specialised sp ON sp.caregiver_id = c.caregiver_id
    {only_one}
)
SELECT
    (SELECT count(*) FROM classified) AS considered,
    (SELECT coalesce(jsonb_object_agg(failed, n), '{{}}'::jsonb)
       FROM (SELECT failed, count(*) AS n FROM classified
             WHERE failed IS NOT NULL GROUP BY failed) f) AS excluded,
    (SELECT coalesce(array_agg(caregiver_id ORDER BY caregiver_id), '{{}}')
       FROM classified WHERE failed IS NULL) AS survivors
"""


_CASE = failed_filter_case()


def run_reference_filters(
    cur: Cursor, request: FilterInput, *, only_caregiver_id: int | None = None
) -> FilterOutcome:
    """Classify every active caregiver (or just one); counts for each filter, zeros included,
    and the survivors' ids, sorted."""
    province = request.patient_region.split("_", 1)[0]
    capital = sorted(str(p) for p in CAPITAL_AREA)
    params = {
        **_booked_params(request),
        "certs": sorted(str(c) for c in CARE_TYPE_CERTIFICATIONS[CareType(request.care_type)]),
        "required": list(request.required_specialties),
        "required_count": len(set(request.required_specialties)),
        "pair_count": len(set(request.days)) * len(set(request.time_slots)),
        "province": province,
        "capital": capital,
        "patient_in_capital": province in capital,
        "gender": request.gender_preference,
        "min_experience": request.min_experience_years,
        "budget": request.max_hourly_rate,
        "caregiver_id": only_caregiver_id,
    }
    only_one = "WHERE c.caregiver_id = %(caregiver_id)s" if only_caregiver_id is not None else ""
    cur.execute(_CLASSIFY.format(only_one=only_one, booked=_BOOKED, case=_CASE), params)
    row = cur.fetchone()
    assert row is not None  # aggregates without GROUP BY: one row
    excluded = {name: int(row["excluded"].get(name, 0)) for name in FILTER_ORDER}
    return FilterOutcome(
        considered=int(row["considered"]), excluded=excluded, survivors=list(row["survivors"])
    )


def _booked_params(request: FilterInput) -> dict[str, Any]:
    return {
        "days": list(request.days),
        "slots": json.dumps([{"start": s, "end": e} for s, e in request.time_slots]),
        "start_date": request.start_date,
        "end_date": request.end_date,
    }


class CandidateColumns(TypedDict):
    """The scoring inputs of the survivors, one list per column, entry i = caregiver i."""

    caregiver_id: list[int]
    service_region: list[str]
    experience_years: list[int]
    hourly_rate: list[int]
    avg_rating: list[float]
    total_reviews: list[int]
    personality: list[list[float | None]]  # shared.personality.AXES order; Nones when unknown
    specialties: list[str]  # comma-separated codes, '' for none
    completed_matchings: list[int]


def candidate_columns(cur: Cursor, caregiver_ids: Sequence[int]) -> CandidateColumns:
    """The scoring inputs of the caregivers, column by column, in the order of `caregiver_ids`.

    One row of parallel arrays instead of one row per caregiver: a thousand survivors cost one
    round of parsing, not a thousand dicts. Personality axes are NULL where there is none.
    """
    cur.execute(
        f"""
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
               array_agg({axis_array("p")} ORDER BY ids.position) AS personality,
               array_agg(coalesce(sp.codes, '') ORDER BY ids.position) AS specialties,
               array_agg(coalesce(done.n, 0) ORDER BY ids.position) AS completed_matchings
        FROM ids
        JOIN caregivers c ON c.caregiver_id = ids.caregiver_id
        LEFT JOIN caregiver_personality p ON p.caregiver_id = c.caregiver_id
        LEFT JOIN specialties sp ON sp.caregiver_id = c.caregiver_id
        LEFT JOIN completed done ON done.caregiver_id = c.caregiver_id
        """,  # noqa: S608  (constant SQL)
        (list(caregiver_ids),),
    )
    row = cur.fetchone()
    assert row is not None  # an aggregate without GROUP BY returns one row
    return cast(CandidateColumns, {key: list(value or []) for key, value in row.items()})


def candidates_from_columns(columns: CandidateColumns) -> Candidates:
    """Columnar candidates from the repository's arrays (the survivors covered every slot)."""
    n = len(columns["caregiver_id"])
    # None (no personality yet) becomes NaN in a float array.
    personality = np.array(columns["personality"], dtype=float).reshape(n, 4)
    return Candidates(
        caregiver_id=np.array(columns["caregiver_id"], dtype=np.int64),
        personality=personality,
        specialties=[
            frozenset(codes.split(",")) if codes else frozenset()
            for codes in columns["specialties"]
        ],
        service_region=list(columns["service_region"]),
        experience_years=np.array(columns["experience_years"], dtype=float),
        avg_rating=np.array(columns["avg_rating"], dtype=float),
        total_reviews=np.array(columns["total_reviews"], dtype=float),
        hourly_rate=np.array(columns["hourly_rate"], dtype=float),
        covered_fraction=np.ones(n),
        completed_matchings=np.array(columns["completed_matchings"], dtype=float),
    )


def reference_mean_rating(cur: Cursor) -> float:
    """The platform's mean rating over every caregiver (what the counters' sums must equal)."""
    cur.execute(
        "SELECT coalesce(sum(avg_rating * total_reviews) / nullif(sum(total_reviews), 0), 4.0)"
        "::float8 AS mean FROM caregivers WHERE total_reviews > 0"
    )
    row = cur.fetchone()
    assert row is not None  # an aggregate without GROUP BY returns one row
    return float(row["mean"])
