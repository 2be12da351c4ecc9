"""Why a caregiver was recommended: short Korean sentences from the score's top positive terms.

The scorer says which features pushed a candidate up (XGBoost's SHAP contributions, or the rule
scorer's terms); this module turns the strongest of them into sentences such as "치매 돌봄 경력
8년" or "요청하신 요일·시간 모두 가능". Two guarantees:

- Never a negative reason: only features with a positive contribution are considered, and each
  sentence is written only when the fact it states is true and favourable (a positive SHAP value
  on a mediocre rating does not become "평점이 높음").
- Never a protected attribute: there are no sentences about gender or age, and no feature
  carries them. Patient-level context (care grade, number of conditions, mobility) explains why
  something matters, not why this caregiver is good, so it never becomes a reason either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.vocabularies import Condition, PersonalityAxis, Specialty
from shared.matching.features import (
    CONTEXT_FEATURES,
    FEATURE_INDEX,
    FEATURE_NAMES,
    care_needs,
)

if TYPE_CHECKING:
    import numpy as np

    from shared.matching.profiles import Candidates, PatientProfile, RequestProfile

#: A personality axis counts as "matching" when the two scores are at most this far apart.
PERSONALITY_MATCH_MAX_DIFF = 0.20
#: Ratings below this are not presented as a reason.
GOOD_RATING = 4.0

_CONDITION_ORDER = [c.value for c in Condition]
_LABELS = {str(s.value): s.label for s in Specialty}


@dataclass(frozen=True)
class _Row:
    patient: PatientProfile
    request: RequestProfile
    candidates: Candidates
    features: np.ndarray  # this candidate's feature row
    index: int

    def value(self, name: str) -> float:
        return float(self.features[FEATURE_INDEX[name]])

    @property
    def specialties(self) -> frozenset[str]:
        return self.candidates.specialties[self.index]


def _labels(codes: set[str] | frozenset[str], limit: int = 2) -> str:
    ordered = sorted(
        codes, key=lambda c: (_CONDITION_ORDER.index(c) if c in _CONDITION_ORDER else 99, c)
    )
    return "·".join(_LABELS.get(code, code) for code in ordered[:limit])


def _expertise(row: _Row) -> str | None:
    covered = row.patient.conditions & row.specialties
    years = int(row.value("experience_years"))
    if covered and years >= 1:
        return f"{_labels(covered)} 돌봄 경력 {years}년"
    if covered:
        return f"{_labels(covered)} 돌봄 가능"
    if years >= 1:
        return f"요양 경력 {years}년"
    return None


def _service_needs(row: _Row) -> str | None:
    met = care_needs(row.patient) & row.specialties
    return f"{_labels(met, limit=3)} 서비스 제공" if met else None


def _region(row: _Row) -> str | None:
    return {3: "같은 시·군·구에서 활동", 2: "같은 시·도에서 활동", 1: "수도권 내 방문 가능"}.get(
        int(row.value("region_closeness"))
    )


def _availability(row: _Row) -> str | None:
    covered = row.value("availability_coverage")
    if covered >= 0.999:
        return "요청하신 요일·시간 모두 가능"
    if covered >= 0.75:
        return "요청하신 요일·시간 대부분 가능"
    return None


def _rating(row: _Row) -> str | None:
    reviews = int(row.candidates.total_reviews[row.index])
    rating = float(row.candidates.avg_rating[row.index])
    if reviews >= 1 and rating >= GOOD_RATING:
        return f"평점 {rating:.1f}점 (후기 {reviews}건)"
    return None


def _price(row: _Row) -> str | None:
    budget = row.request.max_hourly_rate
    rate = int(row.candidates.hourly_rate[row.index])
    if not budget or rate > budget:
        return None
    if budget - rate >= 1000:
        return f"예산보다 시간당 {budget - rate:,}원 저렴"
    return "예산 범위 내 시급"


def _personality(row: _Row, axes: list[str]) -> str | None:
    close = [a for a in axes if row.value(f"personality_diff_{a}") <= PERSONALITY_MATCH_MAX_DIFF]
    if not close:
        return None
    labels = "·".join(PersonalityAxis(a).label for a in close[:2])
    return f"{labels} 성향이 환자분과 잘 맞음"


#: feature -> (sentence group, writer). One sentence per group at most.
_WRITERS: dict[str, tuple[str, Callable[[_Row], str | None]]] = {
    "specialty_coverage": ("expertise", _expertise),
    "experience_years": ("expertise", _expertise),
    "service_need_coverage": ("needs", _service_needs),
    "region_closeness": ("region", _region),
    "availability_coverage": ("availability", _availability),
    "rating_shrunk": ("rating", _rating),
    "review_count": ("rating", _rating),
    "price_to_budget": ("price", _price),
}
_PERSONALITY_PREFIX = "personality_diff_"


def reasons(
    patient: PatientProfile,
    request: RequestProfile,
    candidates: Candidates,
    features: np.ndarray,
    contributions: np.ndarray,
    index: int,
    *,
    limit: int = 3,
) -> list[str]:
    """Up to `limit` Korean sentences for candidate `index`, strongest contribution first.

    An empty list when nothing positive can truthfully be said (or the row was not explained:
    its contributions are NaN).
    """
    import numpy as np

    row_contrib = np.asarray(contributions[index], dtype=np.float64)
    row = _Row(patient, request, candidates, np.asarray(features[index]), index)
    positive = [
        (float(row_contrib[i]), name)
        for i, name in enumerate(FEATURE_NAMES)
        if name not in CONTEXT_FEATURES and np.isfinite(row_contrib[i]) and row_contrib[i] > 0
    ]
    positive.sort(key=lambda item: -item[0])
    personality_axes = [
        name.removeprefix(_PERSONALITY_PREFIX)
        for _, name in positive
        if name.startswith(_PERSONALITY_PREFIX)
    ]
    out: list[str] = []
    used: set[str] = set()
    for _, name in positive:
        if len(out) >= limit:
            break
        if name.startswith(_PERSONALITY_PREFIX):
            group, sentence = "personality", _personality(row, personality_axes)
        elif name in _WRITERS:
            group, writer = _WRITERS[name]
            sentence = writer(row)
        else:
            continue
        if group in used or not sentence:
            continue
        used.add(group)
        out.append(sentence)
    return out
