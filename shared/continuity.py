"""Continuity of care: how much of a patient's care came from the same caregivers.

The Bice-Boxerman continuity of care index over a period, from the patient's completed visits
(planned to start on Korean days `start`..`end`, both included):

    COC = (sum_j n_j^2 - N) / (N (N - 1))

for N visits and n_j of them by caregiver j: 1 when one caregiver made every visit, 0 when each
visit had a different caregiver; undefined (null) for fewer than two visits. Beside it: N, the
number of caregivers, and the share of visits by the most frequent caregiver.

`coc_index` and `figures` are pure; `continuity_for_periods` reads the counts of several periods
in one statement (the care reports' list); `patient_continuity` is the service behind
`GET /api/patients/{patient_id}/continuity` (READ_CARE, audited).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from models.care import MAX_CONTINUITY_DAYS as MAX_DAYS
from models.care import Continuity, ContinuityQuery, PatientContinuity
from models.dates import korea_today
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.db import Cursor
from shared.unit_of_work import UnitOfWork

#: The period of `GET .../continuity` when `from` is not given: this many days up to `to`.
DEFAULT_DAYS = 90


def coc_index(counts: Sequence[int]) -> float | None:
    """The Bice-Boxerman index of visit counts per caregiver; None for fewer than 2 visits."""
    if any(n < 0 for n in counts):
        raise ValueError("visit counts are never negative")
    total = sum(counts)
    if total < 2:
        return None
    return (sum(n * n for n in counts) - total) / (total * (total - 1))


def figures(counts: Sequence[int]) -> Continuity:
    """The index with the figures a reader needs beside it (rounded to 4 decimals)."""
    counts = [n for n in counts if n > 0]
    total = sum(counts)
    index = coc_index(counts)
    return Continuity(
        index=None if index is None else round(index, 4),
        visits=total,
        caregivers=len(counts),
        most_frequent_share=round(max(counts) / total, 4) if total else None,
    )


_COUNTS = """
WITH periods AS (
    SELECT * FROM unnest(%(keys)s::int[], %(starts)s::date[], %(ends)s::date[])
        AS p(key, start_date, end_date)
)
SELECT p.key, array_agg(c.n) AS counts
FROM periods p
CROSS JOIN LATERAL (
    SELECT count(*) AS n
    FROM visits v
    WHERE v.patient_id = %(patient_id)s AND v.status = 'completed'
      AND v.planned_start >= p.start_date::timestamp AT TIME ZONE 'Asia/Seoul'
      AND v.planned_start < (p.end_date + 1)::timestamp AT TIME ZONE 'Asia/Seoul'
    GROUP BY v.caregiver_id
) c
GROUP BY p.key
"""


def continuity_for_periods(
    cur: Cursor, patient_id: int, periods: Sequence[tuple[date, date]]
) -> list[Continuity]:
    """The patient's continuity in each (start, end) period, in the order given."""
    if not periods:
        return []
    cur.execute(
        _COUNTS,
        {
            "patient_id": patient_id,
            "keys": list(range(len(periods))),
            "starts": [start for start, _ in periods],
            "ends": [end for _, end in periods],
        },
    )
    by_key = {row["key"]: [int(n) for n in row["counts"]] for row in cur.fetchall()}
    return [figures(by_key.get(key, [])) for key in range(len(periods))]


def continuity_of(cur: Cursor, patient_id: int, start: date, end: date) -> Continuity:
    """The patient's continuity from `start` to `end` (Korean days, both included)."""
    return continuity_for_periods(cur, patient_id, [(start, end)])[0]


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period asked for: both ends as given; only `to`: the DEFAULT_DAYS up to it; only
    `from`: from it to today, or to MAX_CONTINUITY_DAYS after it if sooner (never before it);
    neither: the DEFAULT_DAYS up to today. Never past the calendar's ends."""
    if end is None:
        end = today if start is None else max(start, min(today, _shift(start, MAX_DAYS - 1)))
    if start is None:
        start = _shift(end, -(DEFAULT_DAYS - 1))
    return start, end


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def patient_continuity(
    uow: UnitOfWork, patient_id: int, query: ContinuityQuery
) -> PatientContinuity:
    """`GET /api/patients/{patient_id}/continuity`: the period's continuity (READ_CARE)."""
    uow.authorize(patient_id, PatientAction.READ_CARE)
    start, end = period(query.from_, query.to, korea_today())
    found = continuity_of(uow.cursor, patient_id, start, end)
    uow.audit(
        AuditAction.VIEW,
        "continuity",
        patient_id=patient_id,
        detail={"from": start.isoformat(), "to": end.isoformat()},
    )
    return PatientContinuity(
        patient_id=patient_id, start_date=start, end_date=end, **found.model_dump()
    )
