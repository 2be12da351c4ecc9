"""The hard filters of a matching request, in SQL, in API.md's order, read by region first.

Every active caregiver of the country is counted under the FIRST filter it fails, but only the
patient's region is read row by row. `caregiver_search` (migration 0009) holds, per caregiver,
what the filters test and what the model scores, maintained by triggers from the source tables;
`caregiver_search_counts` holds how many active caregivers each (province, certification set)
has. One statement then:

- sums the counters: every active caregiver (`candidates_considered`) and the certified ones,
  so `excluded.certification` = active - certified and `excluded.region` = certified - the
  certified active caregivers of the region, which is the set the statement reads next;
- reads the region's certified active caregivers through the partial index on province and
  classifies each by the first later filter it fails (`CASE` stops at the first true branch,
  so dearer checks run only for rows that passed the cheaper ones);
- returns the counts and the survivors' scoring columns, each column packed as one binary
  string (`int8send` ...), so 40,000 survivors cost a few buffers instead of 40,000 rows.

The filters (`failed_filter_case` builds the branches from `models.matching.FILTER_ORDER`):

- certification: holds one of the certifications that satisfy the care type;
- region: same province as the patient, or both in the capital area;
- availability: on every requested day, one available slot covers each requested time slot
  (a slot ending exactly at the requested end covers it). The search row keeps each day's hull
  (earliest start, latest end); when one slot spans the hull it covers exactly what the hull
  covers, otherwise (`split_days`) `caregiver_slot_covers` asks the slots of that day;
- gender: the account's gender equals the preference (unknown gender fails all but `any`);
- experience: at least the minimum years;
- specialties: holds every required specialty;
- budget: hourly rate at most the maximum;
- booked: no active matching whose dates, days and time slots overlap the request's.

`shared.matching.filters_reference` keeps the previous statement (every caregiver, from the
source tables) as the definition this one must equal; a test compares them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from models.matching import FILTER_ORDER
from models.vocabularies import CAPITAL_AREA, CARE_TYPE_CERTIFICATIONS, CareType, Day
from shared.db import Cursor
from shared.matching.profiles import Candidates
from shared.matching.repository import MEAN_RATING
from shared.personality import AXES

#: An active matching `m` (of request `q`) overlapping the request's dates, days and slots.
_OVERLAPS = """m.status = 'active'
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
      )"""
_ACTIVE = "matching_results m JOIN matching_requests q ON q.request_id = m.request_id"

#: The day columns of caregiver_search, and each day's bit in `split_days`.
_DAY_BITS: dict[str, int] = {str(day): 1 << index for index, day in enumerate(Day)}

#: The condition under which a caregiver FAILS each filter (the keys are `FILTER_ORDER`'s);
#: `{available}` is the request's availability test (`_availability`).
_FAILS: dict[str, str] = {
    "certification": "NOT (s.certifications && %(certs)s::text[])",
    "region": "NOT (s.province = ANY(%(provinces)s::text[]))",
    "availability": "NOT ({available})",
    "gender": "%(gender)s <> 'any' AND s.gender IS DISTINCT FROM %(gender)s",
    "experience": "s.experience_years < %(min_experience)s",
    "specialties": "NOT (s.specialties @> %(required)s::text[])",
    "budget": "%(budget)s::int IS NOT NULL AND s.hourly_rate > %(budget)s",
    "booked": "s.caregiver_id IN (SELECT caregiver_id FROM booked)",
}


def failed_filter_case(order: Sequence[str] = FILTER_ORDER) -> str:
    """`CASE WHEN <fails the first> THEN 'first' ... END`: the first filter failed, in `order`
    (FILTER_ORDER, the one statement of the order), or NULL for a survivor."""
    if sorted(order) != sorted(_FAILS):
        raise ValueError(f"the filters {sorted(_FAILS)} have no order in {list(order)}")
    branches = " ".join(f"WHEN {_FAILS[name]} THEN '{name}'" for name in order)
    return f"CASE {branches} END"


_CASE = failed_filter_case()

#: Survivor columns, each packed into one bytea of fixed-width big-endian values:
#: (name, SQL expression, numpy dtype). Personality axes are -1 where there is no test.
_PACKED: tuple[tuple[str, str, str], ...] = (
    ("caregiver_id", "int8send(c.caregiver_id)", ">i8"),
    ("experience_years", "int2send(c.experience_years)", ">i2"),
    ("hourly_rate", "int4send(c.hourly_rate)", ">i4"),
    ("avg_rating", "float8send(c.avg_rating::float8)", ">f8"),
    ("total_reviews", "int4send(c.total_reviews)", ">i4"),
    ("completed_matchings", "int4send(c.completed_matchings)", ">i4"),
    *((axis, f"int2send(coalesce(c.{axis}, -1)::smallint)", ">i2") for axis in AXES),
)

_CLASSIFY = """
WITH totals AS (
    SELECT coalesce(sum(caregivers) FILTER (WHERE is_active), 0) AS active,
           coalesce(sum(caregivers) FILTER (WHERE is_active
                                            AND certifications && %(certs)s::text[]), 0)
               AS certified,
           {mean_rating} AS mean_rating
    FROM caregiver_search_counts
),
booked AS (
    -- Read once (the partial index of active matchings), hashed for the rows that reach it.
    SELECT m.caregiver_id FROM {active} WHERE {overlaps}
),
classified AS (
    SELECT {columns}, {case} AS failed
    FROM caregiver_search s
    WHERE {where}
    OFFSET 0  -- keep the CASE computed once per row, not once per aggregate below
)
SELECT t.active, t.certified, t.mean_rating, a.*
FROM totals t, (
    SELECT count(*) AS scanned,
           {counts},
           {packed},
           string_agg(c.service_region, ';') FILTER (WHERE {survives}) AS service_region,
           string_agg(array_to_string(c.specialties, ','), ';') FILTER (WHERE {survives})
               AS specialties
    FROM classified c
) a
"""

#: The region's certified active caregivers (the partial index on province reads them).
_REGION = (
    "s.is_active AND s.province = ANY(%(provinces)s::text[])"
    " AND s.certifications && %(certs)s::text[]"
)
_ONE = "s.is_active AND s.caregiver_id = %(caregiver_id)s"
_SURVIVES = "c.failed IS NULL"
#: What the aggregates read of a classified row (not the whole row: it is wide).
_COLUMNS = ", ".join(
    f"s.{column}"
    for column in (
        "caregiver_id", "experience_years", "hourly_rate", "avg_rating", "total_reviews",
        "completed_matchings", *AXES, "service_region", "specialties",
    )
)  # fmt: skip


def _statement(where: str, available: str) -> str:
    counts = ", ".join(
        f"count(*) FILTER (WHERE c.failed = '{name}') AS excluded_{name}" for name in FILTER_ORDER
    )
    packed = ", ".join(
        f"string_agg({expression}, ''::bytea) FILTER (WHERE {_SURVIVES}) AS {name}"
        for name, expression, _ in _PACKED
    )
    return _CLASSIFY.format(
        case=_CASE.format(available=available),
        where=where,
        counts=counts,
        packed=packed,
        survives=_SURVIVES,
        mean_rating=MEAN_RATING,
        active=_ACTIVE,
        overlaps=_OVERLAPS,
        columns=_COLUMNS,
    )


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


@dataclass(frozen=True)
class Shortlist(FilterOutcome):
    """The outcome with what ranking needs: the survivors' scoring columns (in `survivors`
    order) and the platform's mean rating (the prior of `rating_shrunk`)."""

    candidates: Candidates
    platform_mean_rating: float


def run_hard_filters(
    cur: Cursor, request: FilterInput, *, only_caregiver_id: int | None = None
) -> Shortlist:
    """Counts for each filter over every active caregiver (zeros included), and the
    survivors with their scoring columns, sorted by id; or classify just one caregiver."""
    # This transaction's own caregiver changes, if any, reach caregiver_search now (they
    # otherwise do at commit; a request's transaction changes none).
    # JIT compiling this statement costs more than running it (its estimate counts the booked
    # check for every row; it runs for the few that reach it).
    cur.execute("SET LOCAL jit = off; SELECT caregiver_search_flush()")
    params, available = _parameters(request)
    params["caregiver_id"] = only_caregiver_id
    where = _REGION if only_caregiver_id is None else _ONE
    cur.execute(_statement(where, available), params)
    row = cur.fetchone()
    assert row is not None  # grouped by the one row of totals
    excluded = {name: int(row[f"excluded_{name}"]) for name in FILTER_ORDER}
    scanned = int(row["scanned"])
    if only_caregiver_id is None:
        # The rows read were the region's certified ones: the two first filters' counts are
        # the counters' differences.
        considered = int(row["active"])
        excluded["certification"] = considered - int(row["certified"])
        excluded["region"] = int(row["certified"]) - scanned
    else:
        considered = scanned
    candidates = _candidates(row)
    return Shortlist(
        considered=considered,
        excluded=excluded,
        survivors=[int(i) for i in candidates.caregiver_id],
        candidates=candidates,
        platform_mean_rating=float(row["mean_rating"]),
    )


def _parameters(request: FilterInput) -> tuple[dict[str, Any], str]:
    """The statement's parameters, and the availability test of the request's (day, slot)
    pairs (day names are the vocabulary's, checked; times are parameters)."""
    province = request.patient_region.split("_", 1)[0]
    capital = sorted(str(p) for p in CAPITAL_AREA)
    params: dict[str, Any] = {
        **_booked_params(request),
        "certs": sorted(str(c) for c in CARE_TYPE_CERTIFICATIONS[CareType(request.care_type)]),
        "required": sorted(set(request.required_specialties)),
        "provinces": capital if province in capital else [province],
        "gender": request.gender_preference,
        "min_experience": request.min_experience_years,
        "budget": request.max_hourly_rate,
    }
    tests = []
    for index, (start, end) in enumerate(sorted(set(request.time_slots))):
        params[f"from_{index}"], params[f"to_{index}"] = start, end
        for day in sorted(set(request.days)):
            bit = _DAY_BITS[day]  # KeyError for a day outside the vocabulary
            span_from, span_to = f"%(from_{index})s::time", f"%(to_{index})s::time"
            tests.append(
                f"coalesce(s.{day}_start <= {span_from} AND s.{day}_end >= {span_to}, false)"
                f" OR coalesce(s.{day}_start2 <= {span_from} AND s.{day}_end2 >= {span_to}, false)"
                f" OR (s.split_days & {bit} <> 0"
                f" AND caregiver_slot_covers(s.caregiver_id, '{day}', {span_from}, {span_to}))"
            )
    return params, " AND ".join(f"({test})" for test in tests) or "true"


def _candidates(row: dict[str, Any]) -> Candidates:
    """The packed survivor columns as numpy arrays, sorted by caregiver id."""
    import numpy as np  # here, not at module level: importing the app must not load numpy

    arrays = {
        name: np.frombuffer(bytes(row[name] or b""), dtype=dtype).astype(dtype[1:])
        for name, _, dtype in _PACKED
    }
    n = len(arrays["caregiver_id"])
    regions = row["service_region"].split(";") if n else []
    specialties = _specialty_sets(row["specialties"].split(";") if n else [])
    order = np.argsort(arrays["caregiver_id"], kind="stable")
    personality = np.stack([arrays[axis] for axis in AXES], axis=1).astype(float).reshape(n, 4)
    personality[personality < 0] = np.nan
    return Candidates(
        caregiver_id=arrays["caregiver_id"].astype(np.int64)[order],
        personality=personality[order],
        specialties=[specialties[i] for i in order],
        service_region=[regions[i] for i in order],
        experience_years=arrays["experience_years"].astype(float)[order],
        avg_rating=arrays["avg_rating"][order],
        total_reviews=arrays["total_reviews"].astype(float)[order],
        hourly_rate=arrays["hourly_rate"].astype(float)[order],
        covered_fraction=np.ones(n),
        completed_matchings=arrays["completed_matchings"].astype(float)[order],
    )


def _specialty_sets(joined: list[str]) -> list[frozenset[str]]:
    """One frozenset per caregiver; caregivers share a few hundred distinct sets at most."""
    cache: dict[str, frozenset[str]] = {}
    out = []
    for codes in joined:
        found = cache.get(codes)
        if found is None:
            found = cache[codes] = frozenset(codes.split(",")) if codes else frozenset()
        out.append(found)
    return out


_IS_BOOKED = (
    f"SELECT EXISTS (SELECT 1 FROM {_ACTIVE}"  # noqa: S608  (constant SQL)
    f" WHERE m.caregiver_id = %(caregiver_id)s AND {_OVERLAPS}) AS booked"
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
