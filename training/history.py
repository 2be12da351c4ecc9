"""Recorded history (the tables the app and the CSV import fill) as a training frame.

Each matching request with results is one group; each result (a caregiver who was shown) is one
row, with features rebuilt from the patient, the request and the caregiver, and a graded outcome:

    recommended                       0  shown, not chosen
    declined, selected                1  chosen by the guardian
    active for < 28 days              1
    active for 28+ days               2  kept for 4+ weeks
    cancelled < 28 days after start   1
    cancelled 28+ days after start    2
    completed                         2, or 3 with a guardian rating of 4-5, 1 with 1-2

The caregiver's rating is taken as of the request (guardian reviews written before it), so the
outcome of a matching does not leak into its own features; caregivers imported with a rating
but no review rows keep their stored rating. Experience, specialties, region and personality are
today's values (the tables keep no history of them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from shared.db import Cursor
from shared.matching.features import build_features
from shared.matching.profiles import Candidates, PatientProfile, RequestProfile
from shared.matching.repository import platform_mean_rating
from shared.personality import axis_array
from shared.reviews.repository import counted_guardian_reviews
from training.frame import (
    CHOSEN,
    KEPT_4_WEEKS,
    KEPT_AND_RATED_WELL,
    NOT_CHOSEN,
    FrameBuilder,
    RankingFrame,
)

KEPT_AFTER = timedelta(days=28)

REQUESTS_SQL = f"""
SELECT r.request_id, r.care_type, r.days, r.time_slots, r.max_hourly_rate,
       r.required_specialties, r.min_experience_years, r.created_at,
       p.region_code, p.care_level, p.mobility_status,
       (SELECT {axis_array("pp")} FROM patient_personality pp
         WHERE pp.patient_id = p.patient_id) AS personality,
       coalesce((SELECT array_agg(code) FROM patient_conditions pc
                  WHERE pc.patient_id = p.patient_id), '{{}}') AS conditions
FROM matching_requests r
JOIN patients p ON p.patient_id = r.patient_id
WHERE EXISTS (SELECT 1 FROM matching_results m WHERE m.request_id = r.request_id)
ORDER BY r.created_at, r.request_id
"""  # noqa: S608  (constant SQL)

RESULTS_SQL = f"""
SELECT m.request_id, m.caregiver_id, m.status, m.status_changed_at, m.contract_start_date,
       c.experience_years, c.service_region, c.hourly_rate,
       c.avg_rating::float8 AS stored_rating, c.total_reviews AS stored_reviews,
       (SELECT {axis_array("cp")} FROM caregiver_personality cp
         WHERE cp.caregiver_id = c.caregiver_id) AS personality,
       coalesce((SELECT array_agg(code) FROM caregiver_specialties s
                  WHERE s.caregiver_id = c.caregiver_id), '{{}}') AS specialties,
       (SELECT count(*) FROM reviews v
         WHERE v.caregiver_id = c.caregiver_id AND v.reviewer_role = 'guardian') AS review_rows,
       (SELECT count(*) FROM ({counted_guardian_reviews("c.caregiver_id", "r.created_at")}) k)
         AS reviews_before,
       (SELECT avg(k.rating)::float8
          FROM ({counted_guardian_reviews("c.caregiver_id", "r.created_at")}) k) AS rating_before,
       (SELECT max(v.rating) FROM reviews v
         WHERE v.matching_id = m.matching_id AND v.reviewer_role = 'guardian') AS outcome_rating,
       (SELECT count(*) FROM matching_results o
         WHERE o.caregiver_id = c.caregiver_id AND o.status = 'completed'
           AND o.status_changed_at < r.created_at) AS completed_before
FROM matching_results m
JOIN matching_requests r ON r.request_id = m.request_id
JOIN caregivers c ON c.caregiver_id = m.caregiver_id
ORDER BY m.request_id, m.rank NULLS LAST, m.matching_id
"""  # noqa: S608  (constant SQL)

AVAILABILITY_SQL = """
SELECT caregiver_id, day, to_char(start_time, 'HH24:MI') AS start_time,
       to_char(end_time, 'HH24:MI') AS end_time
FROM caregiver_availability WHERE caregiver_id = ANY(%s)
"""


def outcome_grade(row: dict[str, Any], now: datetime) -> float:  # noqa: PLR0911 - one per rule
    """The graded outcome of one shown caregiver (see the module docstring)."""
    status = row["status"]
    changed = row["status_changed_at"]
    if status == "recommended":
        return NOT_CHOSEN
    if status == "active":
        return KEPT_4_WEEKS if changed and now - changed >= KEPT_AFTER else CHOSEN
    if status == "cancelled":
        start = row.get("contract_start_date")
        if start and changed and changed.date() - start >= KEPT_AFTER:
            return KEPT_4_WEEKS
        return CHOSEN
    if status == "completed":
        rating = row.get("outcome_rating")
        if rating is not None and rating >= 4:
            return KEPT_AND_RATED_WELL
        if rating is not None and rating <= 2:
            return CHOSEN
        return KEPT_4_WEEKS
    return CHOSEN  # selected, declined


def covered_fraction(
    days: list[str], slots: list[tuple[str, str]], available: list[tuple[str, str, str]]
) -> float:
    """Share of the (day, slot) pairs inside one available slot of that day."""
    pairs = [(d, s, e) for d in days for s, e in slots]
    if not pairs:
        return 1.0
    covered = sum(
        any(day == d and start <= s and end >= e for day, start, end in available)
        for d, s, e in pairs
    )
    return covered / len(pairs)


def _slots(value: Any) -> list[tuple[str, str]]:
    return [(str(s["start"]), str(s["end"])) for s in (value or [])]


def load_history(cur: Cursor, *, now: datetime | None = None) -> RankingFrame:
    """Every matching request with results, as a frame (cursor rows as dicts)."""
    now = now or datetime.now(UTC)
    mean_rating = platform_mean_rating(cur)  # the one definition serving uses
    cur.execute(REQUESTS_SQL)
    requests = cur.fetchall()
    cur.execute(RESULTS_SQL)
    by_request: dict[int, list[dict[str, Any]]] = {}
    for row in cur.fetchall():
        by_request.setdefault(row["request_id"], []).append(row)
    caregiver_ids = sorted({r["caregiver_id"] for rows in by_request.values() for r in rows})
    available: dict[int, list[tuple[str, str, str]]] = {}
    if caregiver_ids:
        cur.execute(AVAILABILITY_SQL, (caregiver_ids,))
        for slot in cur.fetchall():
            available.setdefault(slot["caregiver_id"], []).append(
                (slot["day"], slot["start_time"], slot["end_time"])
            )

    builder = FrameBuilder("database")
    for req in requests:
        results = by_request.get(req["request_id"], [])
        if not results:
            continue
        slots = _slots(req["time_slots"])
        patient = PatientProfile(
            personality=tuple(req["personality"]) if req["personality"] else None,
            conditions=frozenset(req["conditions"]),
            care_level=req["care_level"],
            mobility_status=req["mobility_status"],
            region_code=req["region_code"],
        )
        request = RequestProfile(
            care_type=req["care_type"],
            days=tuple(req["days"]),
            time_slots=tuple(slots),
            max_hourly_rate=req["max_hourly_rate"],
            required_specialties=frozenset(req["required_specialties"] or ()),
            min_experience_years=int(req["min_experience_years"] or 0),
        )
        rows = []
        for r in results:
            as_of = r["review_rows"] > 0  # review rows exist: rate as of the request
            rows.append(
                {
                    "caregiver_id": r["caregiver_id"],
                    "personality": r["personality"],
                    "specialties": r["specialties"],
                    "service_region": r["service_region"],
                    "experience_years": r["experience_years"],
                    "avg_rating": (r["rating_before"] or 0.0) if as_of else r["stored_rating"],
                    "total_reviews": r["reviews_before"] if as_of else r["stored_reviews"],
                    "hourly_rate": r["hourly_rate"],
                    "covered_fraction": covered_fraction(
                        list(req["days"]), slots, available.get(r["caregiver_id"], [])
                    ),
                    "completed_matchings": r["completed_before"],
                }
            )
        candidates = Candidates.from_rows(rows)
        features = build_features(patient, request, candidates, platform_mean_rating=mean_rating)
        grades = np.array([outcome_grade(r, now) for r in results], dtype=np.float32)
        builder.add(
            req["created_at"].timestamp(),
            features,
            grades,
            candidates.completed_matchings == 0,
        )
    return builder.build()


def load_history_from_database() -> RankingFrame:
    """`load_history` on the app's database (`DatabaseURL`), read-only."""
    from shared.unit_of_work import UnitOfWork

    with UnitOfWork.for_job() as uow:
        return load_history(uow.begin(readonly=True))
