"""From the hard filters' survivors to the top_k: features, the serving model, reasons.

Kept apart from the service so the benchmark's floor (the same filter statement plus the model's
`inplace_predict`) and the service share exactly the same steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from models.matching import MatchingRequestIn
from shared.matching import repository
from shared.matching.explain import reasons as explain_reasons
from shared.matching.features import build_features
from shared.matching.filters import Shortlist
from shared.matching.history import CareHistory
from shared.matching.model_registry import get_active_model
from shared.matching.profiles import PatientProfile, RequestProfile


@dataclass(frozen=True)
class Choice:
    caregiver_id: int
    score: float
    reasons: list[str]


@dataclass(frozen=True)
class Ranked:
    model_kind: str
    model_version: str
    top: list[Choice]


#: The first reason of a caregiver whose relationship with the patient the request extends.
CONTINUING_REASON = "지금 어르신을 돌보고 있는 요양보호사라 먼저 추천 (방문 {visits}회)"
CONTINUING_REASON_NO_VISITS = "지금 어르신을 돌보고 있는 요양보호사라 먼저 추천"
MAX_REASONS = 3


def rank_candidates(
    patient_row: repository.PatientProfileRow,
    body: MatchingRequestIn,
    shortlist: Shortlist,
    history: CareHistory | None = None,
) -> Ranked:
    """Score every survivor with the serving model; the best `body.top_k`, best first.

    The survivors' scoring columns come with the hard filters' answer (one statement).
    `history` (shared.matching.history, aligned with the survivors) feeds the history features,
    and a survivor the request extends a relationship with (`continuing`: an active or recently
    completed matching of this patient) is offered first, with a reason saying so."""
    model = get_active_model()
    candidates = shortlist.candidates
    if not len(candidates):
        return Ranked(model.kind, model.version, [])
    patient = patient_profile(patient_row)
    request = request_profile(body)
    features = build_features(
        patient,
        request,
        candidates,
        platform_mean_rating=shortlist.platform_mean_rating,
        history=history,
    )
    continuing = (
        np.zeros(len(candidates), bool) if history is None else np.asarray(history.continuing)
    )
    # Explain the continuing caregivers too, whatever their scores.
    explain_k = body.top_k + int(continuing.sum())
    scored = model.scorer.score(features, top_k=explain_k)
    top = continuing_first(scored.scores, candidates.caregiver_id, continuing, body.top_k)
    return Ranked(
        model.kind,
        model.version,
        [
            Choice(
                caregiver_id=int(candidates.caregiver_id[i]),
                score=round(float(scored.scores[i]), 2),
                reasons=_reasons(
                    explain_reasons(
                        patient, request, candidates, features, scored.contributions, int(i)
                    ),
                    history,
                    int(i),
                ),
            )
            for i in top
        ],
    )


def continuing_first(
    scores: np.ndarray, ids: np.ndarray, continuing: np.ndarray, k: int
) -> list[int]:
    """Indices of the k to offer: the continuing caregivers first, then the best scores (each
    part best first; ties go to the lower caregiver id)."""
    order = np.lexsort((ids, -np.asarray(scores, dtype=float), ~np.asarray(continuing, bool)))
    return [int(i) for i in order[:k]]


def _reasons(found: list[str], history: CareHistory | None, i: int) -> list[str]:
    if history is None or not history.continuing[i]:
        return found
    visits = int(history.completed_visits[i])
    first = CONTINUING_REASON.format(visits=visits) if visits else CONTINUING_REASON_NO_VISITS
    return [first, *found][:MAX_REASONS]


def top_indices(scores: np.ndarray, ids: np.ndarray, k: int) -> list[int]:
    """Indices of the k best scores, best first; ties go to the lower caregiver id."""
    order = np.lexsort((ids, -np.asarray(scores, dtype=float)))
    return [int(i) for i in order[:k]]


def patient_profile(row: repository.PatientProfileRow) -> PatientProfile:
    personality = row["personality"]
    return PatientProfile(
        personality=_axes(personality) if personality else None,
        conditions=frozenset(row["conditions"] or ()),
        care_level=row["care_level"],
        mobility_status=row["mobility_status"],
        region_code=row["region_code"],
    )


def _axes(values: Sequence[float]) -> tuple[float, float, float, float]:
    """The stored axes (shared.personality.AXES order) as the profile's 4-tuple."""
    return cast(tuple[float, float, float, float], tuple(float(v) for v in values))


def request_profile(body: MatchingRequestIn) -> RequestProfile:
    return RequestProfile(
        care_type=str(body.care_type),
        days=tuple(str(d) for d in body.days),
        time_slots=tuple((s.start, s.end) for s in body.time_slots),
        max_hourly_rate=body.max_hourly_rate,
        required_specialties=frozenset(str(s) for s in body.required_specialties),
        min_experience_years=body.min_experience_years,
    )
