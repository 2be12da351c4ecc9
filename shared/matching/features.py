"""One numeric row per candidate: the only thing a scorer sees.

Training and serving both call `build_features`, so a model is never trained on features computed
differently from the ones it serves on. The feature list is part of a model's manifest; a model
whose list differs from `FEATURE_NAMES` is refused at load time.

Protected attributes (the caregiver's gender and age, the patient's too) are not inputs: they are
not in the profiles, so no feature can carry them.

NaN means "unknown or not applicable" (no personality test, no conditions, no budget): XGBoost
learns a direction for missing values, and the rule scorer treats NaN as neutral.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from models.vocabularies import CAPITAL_AREA, PERSONALITY_AXES

if TYPE_CHECKING:
    import numpy as np

    from shared.matching.history import CareHistory
    from shared.matching.profiles import Candidates, PatientProfile, RequestProfile

#: |patient - caregiver| / 100 on each personality axis (0 identical, 1 opposite), in the
#: vocabulary's axis order.
PERSONALITY_FEATURES: tuple[str, ...] = tuple(
    f"personality_diff_{axis}" for axis in PERSONALITY_AXES
)

#: Features added after models were published, at the end of FEATURE_NAMES: a model trained
#: before one was added lacks it (its manifest lists FEATURE_NAMES without it) and still serves,
#: scored on the columns it knows (`model_columns`). A new feature goes at the end and here.
LATER_FEATURES: tuple[str, ...] = (
    # log(1 + the caregiver's completed visits to this patient): continuity of care.
    "prior_visits_with_patient",
    # The newest rating (1..5) this patient's guardian gave the caregiver (NaN: none).
    "prior_rating_from_guardian",
)

#: Column order of the feature matrix. Changing it (or a definition) needs a retrained model.
FEATURE_NAMES: tuple[str, ...] = (
    *PERSONALITY_FEATURES,
    # Share of the patient's conditions the caregiver lists as specialties (NaN: no conditions).
    "specialty_coverage",
    # Share of the care needs implied by mobility and conditions (bedridden care, feeding
    # assistance, rehabilitation, hospice) the caregiver offers (NaN: no such need).
    "service_need_coverage",
    # 3 same district, 2 same province, 1 both in the capital area, 0 otherwise.
    "region_closeness",
    # Share of the requested (day, time slot) pairs the caregiver's availability covers.
    "availability_coverage",
    "experience_years",
    # Average rating shrunk toward the platform mean by review count (a Bayesian average).
    "rating_shrunk",
    "review_count",
    # hourly_rate / max_hourly_rate (NaN: the request has no budget).
    "price_to_budget",
    # Patient-level context, the same for every candidate of a request: lets the model learn
    # that, say, experience matters more for a grade 1 patient. Never used for reasons.
    "care_level_severity",
    "condition_count",
    "mobility_level",
    *LATER_FEATURES,
)

FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}

#: Features that describe the request or patient rather than the caregiver.
CONTEXT_FEATURES: frozenset[str] = frozenset(
    {"care_level_severity", "condition_count", "mobility_level"}
)

#: Known directions, enforced as XGBoost monotone constraints (+1: more is never worse).
MONOTONE_INCREASING: frozenset[str] = frozenset(
    {
        "specialty_coverage",
        "service_need_coverage",
        "availability_coverage",
        "experience_years",
        "rating_shrunk",
        "prior_visits_with_patient",
        "prior_rating_from_guardian",
    }
)

#: How many reviews' worth of weight the platform mean carries in `rating_shrunk`.
RATING_PRIOR_REVIEWS = 5.0
#: The mean used when the platform has no reviews yet.
DEFAULT_PLATFORM_RATING = 4.0
#: Experience beyond this many years adds nothing (and outliers do not stretch the scale).
EXPERIENCE_CAP_YEARS = 40.0

CARE_LEVEL_SEVERITY: dict[str, float] = {
    "grade_1": 6.0,
    "grade_2": 5.0,
    "grade_3": 4.0,
    "grade_4": 3.0,
    "grade_5": 2.0,
    "cognitive_support": 1.0,
    "none": 0.0,
}
MOBILITY_LEVEL: dict[str, float] = {
    "independent": 0.0,
    "assistive_device": 1.0,
    "wheelchair": 2.0,
    "bedridden": 3.0,
}
_CAPITAL_PROVINCES = frozenset(str(p) for p in CAPITAL_AREA)


def model_columns(model_features: Sequence[str]) -> tuple[int, ...]:
    """The columns of FEATURE_NAMES a model with this feature list reads, in its order.

    A model may lack only LATER_FEATURES (it was trained before they were added) and must list
    the rest in this code's order; anything else raises ValueError."""
    names = tuple(model_features)
    known = tuple(name for name in FEATURE_NAMES if name in names)
    missing = sorted(set(FEATURE_NAMES) - set(names))
    unknown = sorted(set(names) - set(FEATURE_NAMES))
    if unknown or names != known or set(missing) - set(LATER_FEATURES):
        raise ValueError(
            "the model's feature list differs from this code's"
            f" (missing {missing or 'none'}, unknown {unknown or 'none'}"
            + (", same names in another order" if not missing and not unknown else "")
            + ")"
        )
    return tuple(FEATURE_INDEX[name] for name in names)


def split_region(region_code: str) -> tuple[str, str]:
    """("SEOUL", "GANGNAM") from "SEOUL_GANGNAM"; the district is "" when absent."""
    province, _, district = region_code.partition("_")
    return province, district


def care_needs(patient: PatientProfile) -> frozenset[str]:
    """The service tags (specialty codes) the patient's mobility and conditions call for."""
    needs: set[str] = set()
    if patient.mobility_status == "bedridden":
        needs |= {"bedridden_care", "feeding_assist"}
    elif patient.mobility_status in {"wheelchair", "assistive_device"}:
        needs.add("rehabilitation")
    if patient.conditions & {"stroke", "palsy"}:
        needs.add("rehabilitation")
    if "cancer" in patient.conditions and patient.care_level in {"grade_1", "grade_2"}:
        needs.add("hospice")
    return frozenset(needs)


def region_closeness(patient_region: str, caregiver_regions: list[str]) -> np.ndarray:
    """3 same district, 2 same province, 1 both in the capital area, 0 otherwise."""
    import numpy as np

    province, _ = split_region(patient_region)
    in_capital = province in _CAPITAL_PROVINCES
    out = np.zeros(len(caregiver_regions), dtype=np.float64)
    for i, region in enumerate(caregiver_regions):
        other, _ = split_region(region)
        if region == patient_region:
            out[i] = 3.0
        elif other == province:
            out[i] = 2.0
        elif in_capital and other in _CAPITAL_PROVINCES:
            out[i] = 1.0
    return out


def shrunk_rating(
    avg_rating: np.ndarray, total_reviews: np.ndarray, platform_mean_rating: float
) -> np.ndarray:
    """(sum of ratings + m * mean) / (n + m): a caregiver with few reviews stays near the mean."""
    import numpy as np

    mean = float(platform_mean_rating)
    if not np.isfinite(mean) or mean <= 0:
        mean = DEFAULT_PLATFORM_RATING
    n = np.clip(np.asarray(total_reviews, dtype=np.float64), 0, None)
    avg = np.where(n > 0, np.asarray(avg_rating, dtype=np.float64), 0.0)
    return (avg * n + mean * RATING_PRIOR_REVIEWS) / (n + RATING_PRIOR_REVIEWS)


def build_features(
    patient: PatientProfile,
    request: RequestProfile,
    candidates: Candidates,
    *,
    platform_mean_rating: float,
    history: CareHistory | None = None,
) -> np.ndarray:
    """The (n, len(FEATURE_NAMES)) float32 matrix for the candidates, vectorised over them.

    `history` is the patient's own history with each candidate (shared.matching.history);
    without it (training, simulation, a new patient) nobody has served the patient."""
    import numpy as np

    n = len(candidates.caregiver_id)
    x = np.empty((n, len(FEATURE_NAMES)), dtype=np.float64)
    col = FEATURE_INDEX

    # Personality: NaN wherever either side has no scores.
    axes = len(PERSONALITY_AXES)
    caregiver_personality = np.asarray(candidates.personality, dtype=np.float64).reshape(n, axes)
    if patient.personality is None:
        diffs = np.full((n, axes), np.nan)
    else:
        diffs = np.abs(caregiver_personality - np.asarray(patient.personality, np.float64)) / 100
    x[:, col[PERSONALITY_FEATURES[0]] : col[PERSONALITY_FEATURES[-1]] + 1] = diffs

    conditions = patient.conditions
    if conditions:
        covered = [len(conditions & specs) for specs in candidates.specialties]
        x[:, col["specialty_coverage"]] = np.asarray(covered, np.float64) / len(conditions)
    else:
        x[:, col["specialty_coverage"]] = np.nan

    needs = care_needs(patient)
    if needs:
        met = [len(needs & specs) for specs in candidates.specialties]
        x[:, col["service_need_coverage"]] = np.asarray(met, np.float64) / len(needs)
    else:
        x[:, col["service_need_coverage"]] = np.nan

    x[:, col["region_closeness"]] = region_closeness(
        patient.region_code, list(candidates.service_region)
    )
    x[:, col["availability_coverage"]] = np.clip(
        np.asarray(candidates.covered_fraction, np.float64), 0.0, 1.0
    )
    x[:, col["experience_years"]] = np.clip(
        np.asarray(candidates.experience_years, np.float64), 0.0, EXPERIENCE_CAP_YEARS
    )
    x[:, col["rating_shrunk"]] = shrunk_rating(
        candidates.avg_rating, candidates.total_reviews, platform_mean_rating
    )
    x[:, col["review_count"]] = np.clip(np.asarray(candidates.total_reviews, np.float64), 0, None)
    if request.max_hourly_rate:
        x[:, col["price_to_budget"]] = (
            np.asarray(candidates.hourly_rate, np.float64) / request.max_hourly_rate
        )
    else:
        x[:, col["price_to_budget"]] = np.nan
    x[:, col["care_level_severity"]] = CARE_LEVEL_SEVERITY.get(patient.care_level, 0.0)
    x[:, col["condition_count"]] = float(len(conditions))
    x[:, col["mobility_level"]] = MOBILITY_LEVEL.get(patient.mobility_status, 0.0)
    if history is None:
        x[:, col["prior_visits_with_patient"]] = 0.0
        x[:, col["prior_rating_from_guardian"]] = np.nan
    else:
        visits = np.clip(np.asarray(history.completed_visits, np.float64), 0, None)
        x[:, col["prior_visits_with_patient"]] = np.log1p(visits)
        x[:, col["prior_rating_from_guardian"]] = np.asarray(history.guardian_rating, np.float64)
    return x.astype(np.float32)
