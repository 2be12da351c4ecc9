"""What the patient's own care says about each candidate: the SQL behind the ranker's history
features and the "extends an active relationship" rule (shared.matching.ranking).

For one patient and the candidates that passed the hard filters, aligned with them:

- `completed_visits`: the caregiver's completed visits to this patient (any time);
- `guardian_rating`: the newest rating the patient's guardian gave the caregiver in a review of
  a matching of this patient (NaN: none);
- `continuing`: the caregiver holds an `active` matching of this patient, or one completed in
  the last `RECENT_DAYS` days: a new request then extends that relationship.

One statement reading only the patient's own rows (the visits' (patient_id, planned_start)
index, the matchings' (patient_id, status) index), however many candidates there are; the
caregivers are matched to the candidates in numpy. Kept apart from shared.matching.filters and
repository (the hard filters at scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.db import Cursor

if TYPE_CHECKING:
    import numpy as np

#: A matching completed this many days ago or less still counts as a relationship to extend.
RECENT_DAYS = 30

_HISTORY = """
WITH visited AS (
    SELECT caregiver_id, count(*) AS completed_visits
    FROM visits
    WHERE patient_id = %(patient_id)s AND status = 'completed'
    GROUP BY caregiver_id
), rated AS (
    SELECT DISTINCT ON (r.caregiver_id) r.caregiver_id, r.rating AS guardian_rating
    FROM reviews r
    JOIN matching_results m ON m.matching_id = r.matching_id
    WHERE m.patient_id = %(patient_id)s AND r.reviewer_role = 'guardian'
    ORDER BY r.caregiver_id, r.created_at DESC, r.review_id DESC
), continuing AS (
    SELECT DISTINCT caregiver_id
    FROM matching_results
    WHERE patient_id = %(patient_id)s
      AND (status = 'active'
           OR (status = 'completed'
               AND status_changed_at >= now() - make_interval(days => %(recent)s)))
)
SELECT coalesce(v.caregiver_id, r.caregiver_id, c.caregiver_id) AS caregiver_id,
       coalesce(v.completed_visits, 0) AS completed_visits,
       r.guardian_rating,
       c.caregiver_id IS NOT NULL AS continuing
FROM visited v
FULL JOIN rated r ON r.caregiver_id = v.caregiver_id
FULL JOIN continuing c ON c.caregiver_id = coalesce(v.caregiver_id, r.caregiver_id)
"""


@dataclass(frozen=True)
class CareHistory:
    """Per candidate (aligned with Candidates.caregiver_id): see the module docstring."""

    completed_visits: np.ndarray  # int64 (n,)
    guardian_rating: np.ndarray  # float64 (n,), NaN without a review
    continuing: np.ndarray  # bool (n,)

    @classmethod
    def none(cls, n: int) -> CareHistory:
        """No history at all (a new patient, training and simulation)."""
        import numpy as np

        return cls(np.zeros(n, np.int64), np.full(n, np.nan), np.zeros(n, bool))


def care_history(cur: Cursor, patient_id: int, caregiver_ids: np.ndarray) -> CareHistory:
    """The patient's history with each of the caregivers, in their order."""
    n = len(caregiver_ids)
    history = CareHistory.none(n)
    if not n:
        return history
    cur.execute(_HISTORY, {"patient_id": patient_id, "recent": RECENT_DAYS})
    position = {int(c): i for i, c in enumerate(caregiver_ids)}
    for row in cur.fetchall():
        i = position.get(int(row["caregiver_id"]))
        if i is None:
            continue
        history.completed_visits[i] = int(row["completed_visits"])
        if row["guardian_rating"] is not None:
            history.guardian_rating[i] = float(row["guardian_rating"])
        history.continuing[i] = bool(row["continuing"])
    return history
