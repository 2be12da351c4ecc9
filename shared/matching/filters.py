"""The hard filters of a matching request, in SQL, in API.md's order.

One statement classifies every active caregiver by the FIRST filter it fails (`CASE` evaluates
its branches in order and stops at the first true one, so later, dearer checks only run for
caregivers that passed the earlier ones) and returns the per-filter counts plus the ids of the
survivors. The branches are built from `models.matching.FILTER_ORDER` (`failed_filter_case`),
so the SQL and the API's order are one list. A guardian's choice is a requirement, never a
ranking hint: a survivor passed all.

- certification: holds one of the certifications that satisfy the care type;
- region: same province as the patient, or both in the capital area;
- availability: on every requested day, one available slot covers each requested time slot
  (a slot ending exactly at the requested end covers it);
- gender: the account's gender equals the preference (unknown gender fails all but `any`);
- experience: at least the minimum years;
- specialties: holds every required specialty;
- budget: hourly rate at most the maximum;
- booked: no active matching whose dates, days and time slots overlap the request's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from models.matching import FILTER_ORDER
from models.vocabularies import CAPITAL_AREA, CARE_TYPE_CERTIFICATIONS, CareType
from shared.db import Cursor

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


@dataclass(frozen=True)
class FilterInput:
    """What the filters need from the request and the patient."""

    care_type: str
    patient_region: str
    days: tuple[str, ...]
    time_slots: tuple[tuple[str, str], ...]
    start_date: date
    end_date: date | None
    gender_preference: str
    min_experience_years: int
    required_specialties: tuple[str, ...]
    max_hourly_rate: int | None


@dataclass(frozen=True)
class FilterOutcome:
    considered: int
    excluded: dict[str, int]
    survivors: list[int]


def run_hard_filters(
    cur: Cursor, request: FilterInput, *, only_caregiver_id: int | None = None
) -> FilterOutcome:
    """Classify every active caregiver (or just one, to re-check it); counts for each filter,
    zeros included, and the survivors' ids."""
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


_IS_BOOKED = (
    "SELECT EXISTS (SELECT 1 FROM (" + _BOOKED + ") b"  # noqa: S608  (constant SQL)
    " WHERE b.caregiver_id = %(caregiver_id)s) AS booked"
)


def is_booked(cur: Cursor, caregiver_id: int, request: FilterInput) -> bool:
    """The `booked` filter alone, for one caregiver (accepting re-checks it)."""
    cur.execute(
        _IS_BOOKED,
        {**_booked_params(request), "caregiver_id": caregiver_id},
    )
    row = cur.fetchone()
    assert row is not None  # SELECT EXISTS returns one row
    return bool(row["booked"])


def _booked_params(request: FilterInput) -> dict[str, Any]:
    return {
        "days": list(request.days),
        "slots": json.dumps([{"start": s, "end": e} for s, e in request.time_slots]),
        "start_date": request.start_date,
        "end_date": request.end_date,
    }
