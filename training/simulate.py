"""A simulated platform history, generated from a hidden compatibility function with noise.

Why simulate: the pilot's history is small and only says what happened to the caregivers that
were shown, so it cannot tell how good a ranking is. Here the truth is known: every candidate of
every request has a hidden utility, so a model's ranking of the *whole* candidate pool can be
graded against it (`truth`), while training only sees what a platform records (`observed`).

The story of one request:
1. A patient (conditions, care grade, mobility, personality, region) asks for care on some days,
   with or without a budget. The pool is the caregivers that pass the region and budget filters.
2. The old system showed `shown` of them, sampled in proportion to exp(rule score / 6) (mostly
   the rule scorer's favourites, with some exploration; the data's own selection bias).
3. The guardian chooses one of the shown (softmax of the hidden utility, so noisy), or none.
4. The chosen caregiver is kept for 4+ weeks with a probability rising with the utility, and a
   kept one is rated 1..5 (noisy too).

The hidden utility uses the same raw attributes as the features, but in its own, non-linear way
(expertise and experience matter more for severe patients, personality mismatch is quadratic and
patience matters more with dementia, a latent caregiver quality shows only through noisy ratings,
price hurts above 90 % of the budget). Caregivers also get a gender and an age, which the hidden
function does not use either: the report checks that the model does not learn to expose one
gender more than the pool does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from models.vocabularies import CAPITAL_AREA, Condition
from shared.matching.features import CARE_LEVEL_SEVERITY, build_features, care_needs
from shared.matching.profiles import Candidates, PatientProfile, RequestProfile
from shared.matching.scoring import RuleScorer
from training.frame import (
    CHOSEN,
    KEPT_4_WEEKS,
    KEPT_AND_RATED_WELL,
    NOT_CHOSEN,
    FrameBuilder,
    RankingFrame,
)

#: Simulated requests end here (fixed, so a seed always gives the same history).
SIMULATION_END = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
SIMULATION_DAYS = 365

_PROVINCES = {  # province -> (weight, districts)
    "SEOUL": (0.34, ("GANGNAM", "MAPO", "NOWON", "SONGPA", "GWANAK", "EUNPYEONG")),
    "GYEONGGI": (0.30, ("GOYANG", "SUWON", "SEONGNAM", "YONGIN", "BUCHEON")),
    "INCHEON": (0.10, ("BUPYEONG", "NAMDONG", "YEONSU")),
    "BUSAN": (0.16, ("HAEUNDAE", "BUSANJIN", "SAHA")),
    "DAEGU": (0.10, ("SUSEONG", "DALSEO")),
}
_CONDITION_RATES = {
    "dementia": 0.30,
    "cognitive_impairment": 0.12,
    "stroke": 0.14,
    "palsy": 0.05,
    "parkinsons": 0.07,
    "diabetes": 0.28,
    "hypertension": 0.42,
    "arthritis": 0.25,
    "spondylitis": 0.06,
    "osteoporosis": 0.14,
    "cancer": 0.07,
}
_SERVICE_TAGS = ("hospice", "bedridden_care", "feeding_assist", "rehabilitation")
_CARE_LEVELS = ("grade_1", "grade_2", "grade_3", "grade_4", "grade_5", "cognitive_support", "none")
_CARE_LEVEL_P = (0.06, 0.12, 0.24, 0.26, 0.14, 0.08, 0.10)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLOTS = (("09:00", "12:00"), ("13:00", "17:00"), ("18:00", "21:00"))
_CAPITAL = frozenset(str(p) for p in CAPITAL_AREA)
assert set(_CONDITION_RATES) == {str(c) for c in Condition}


@dataclass
class CaregiverPopulation:
    """Every simulated caregiver; `candidates` holds what the platform knows about them."""

    candidates: Candidates
    province: np.ndarray  # (P,) str
    quality: np.ndarray  # (P,) latent, hidden from the model
    gender: np.ndarray  # (P,) "female" | "male": generated, used by nothing
    age: np.ndarray  # (P,) generated, used by nothing

    @property
    def platform_mean_rating(self) -> float:
        n = self.candidates.total_reviews
        return float((self.candidates.avg_rating * n).sum() / max(n.sum(), 1.0))


@dataclass
class SimulatedHistory:
    observed: RankingFrame  # shown candidates with their outcomes: what training may use
    truth: RankingFrame  # whole pools graded by the hidden utility: for evaluation only
    stats: dict[str, int] = field(default_factory=dict)


def _region(rng: np.random.Generator) -> tuple[str, str]:
    names = list(_PROVINCES)
    weights = np.array([_PROVINCES[n][0] for n in names])
    province = names[rng.choice(len(names), p=weights / weights.sum())]
    districts = _PROVINCES[province][1]
    return province, f"{province}_{districts[rng.integers(len(districts))]}"


def make_caregivers(rng: np.random.Generator, count: int) -> CaregiverPopulation:
    """A caregiver population with skills, ratings that reflect a latent quality, and rates."""
    regions = [_region(rng) for _ in range(count)]
    experience = np.clip(np.round(rng.gamma(2.0, 3.5, count)), 0, 35)
    quality = rng.normal(0.0, 1.0, count)
    personality = np.clip(rng.normal(55, 18, (count, 4)), 0, 100).round()
    personality[rng.random(count) > 0.85] = np.nan
    specialties = []
    for years in experience:
        skill = 0.18 + 0.02 * min(years, 10)
        codes = {c for c in _CONDITION_RATES if rng.random() < skill}
        codes |= {t for t in _SERVICE_TAGS if rng.random() < 0.2}
        specialties.append(frozenset(codes))
    new = rng.random(count) < 0.2
    completed = np.where(new, 0, rng.poisson(rng.gamma(1.5, 6.0, count)) + 1).astype(float)
    reviews = rng.binomial(completed.astype(int), 0.7).astype(float)
    noise = rng.normal(0.0, 0.8, count) / np.sqrt(np.maximum(reviews, 1))
    rating = np.where(reviews > 0, np.clip(4.2 + 0.35 * quality + noise, 1, 5).round(2), 0.0)
    rate = 11_000 + 900 * np.sqrt(experience) + 600 * quality + rng.normal(0, 1500, count)
    rate = np.clip(np.round(rate / 500) * 500, 10_000, 30_000)
    candidates = Candidates(
        caregiver_id=np.arange(1, count + 1, dtype=np.int64),
        personality=personality,
        specialties=specialties,
        service_region=[r[1] for r in regions],
        experience_years=experience,
        avg_rating=rating,
        total_reviews=reviews,
        hourly_rate=rate,
        covered_fraction=np.ones(count),
        completed_matchings=completed,
    )
    return CaregiverPopulation(
        candidates=candidates,
        province=np.array([r[0] for r in regions]),
        quality=quality,
        gender=np.where(rng.random(count) < 0.88, "female", "male"),
        age=rng.integers(35, 71, count),
    )


def make_patient(rng: np.random.Generator) -> PatientProfile:
    care_level = _CARE_LEVELS[rng.choice(len(_CARE_LEVELS), p=_CARE_LEVEL_P)]
    severity = CARE_LEVEL_SEVERITY[care_level] / 6
    mobility_p = np.array([1.0 - severity, 0.6, 0.5 * severity, 0.6 * severity**2])
    mobility = ("independent", "assistive_device", "wheelchair", "bedridden")[
        rng.choice(4, p=mobility_p / mobility_p.sum())
    ]
    conditions = frozenset(c for c, p in _CONDITION_RATES.items() if rng.random() < p)
    personality = None
    if rng.random() < 0.7:
        personality = tuple(float(v) for v in np.clip(rng.normal(50, 20, 4), 0, 100).round())
    return PatientProfile(
        personality=personality,  # type: ignore[arg-type]
        conditions=conditions,
        care_level=care_level,
        mobility_status=mobility,
        region_code=_region(rng)[1],
    )


def make_request(rng: np.random.Generator) -> RequestProfile:
    days = tuple(sorted(rng.choice(7, size=rng.integers(1, 7), replace=False)))
    slots = tuple(_SLOTS[i] for i in sorted(rng.choice(3, size=rng.integers(1, 3), replace=False)))
    budget = int(rng.integers(26, 45) * 500) if rng.random() < 0.55 else None
    return RequestProfile(
        care_type="caregiver",
        days=tuple(_DAYS[d] for d in days),
        time_slots=slots,
        max_hourly_rate=budget,
        required_specialties=frozenset(),
        min_experience_years=0,
    )


def hidden_utility(
    patient: PatientProfile,
    request: RequestProfile,
    pool: Candidates,
    quality: np.ndarray,
) -> np.ndarray:
    """The truth the simulation grades against. Never imported by the app or the features."""
    n = len(pool)
    severity = CARE_LEVEL_SEVERITY[patient.care_level] / 6
    if patient.conditions:
        covered = np.array([len(patient.conditions & s) for s in pool.specialties], float)
        expertise = covered / len(patient.conditions)
    else:
        expertise = np.full(n, 0.5)
    needs = care_needs(patient)
    need_met = (
        np.array([len(needs & s) / len(needs) for s in pool.specialties]) if needs else np.zeros(n)
    )
    if patient.personality is None:
        mismatch = np.full(n, 0.08)
    else:
        dementia = bool(patient.conditions & {"dementia", "cognitive_impairment"})
        weights = np.array([1.0, 0.6, 1.0 + 1.5 * dementia, 0.5])
        d = np.abs(pool.personality - np.array(patient.personality)) / 100
        mismatch = np.where(
            np.isnan(d).any(axis=1), 0.08, (np.nan_to_num(d) ** 2 @ weights) / weights.sum()
        )
    province = patient.region_code.partition("_")[0]
    same_district = np.array([r == patient.region_code for r in pool.service_region], float)
    same_province = np.array([r.partition("_")[0] == province for r in pool.service_region])
    experience = np.minimum(pool.experience_years, 15) / 15
    if request.max_hourly_rate:
        over_budget = np.maximum(0.0, pool.hourly_rate / request.max_hourly_rate - 0.9)
    else:
        over_budget = np.maximum(0.0, pool.hourly_rate / 20_000 - 1.0)
    utility: np.ndarray = (
        1.8 * expertise * (0.4 + severity)
        + 0.8 * need_met
        - 4.0 * mismatch
        + 0.7 * same_district
        + 0.25 * (same_province & (same_district == 0))
        - 2.5 * (1.0 - pool.covered_fraction)
        + experience * (0.3 + 1.2 * severity)
        + 0.8 * quality
        - 3.0 * over_budget
    )
    return utility


def _truth_grades(utility: np.ndarray) -> np.ndarray:
    """3 for the best two of the pool, 2 for ranks 3-5, 1 for ranks 6-10, else 0."""
    rank = np.empty(len(utility), dtype=int)
    rank[np.argsort(-utility, kind="stable")] = np.arange(len(utility))
    return np.select([rank < 2, rank < 5, rank < 10], [3.0, 2.0, 1.0], 0.0)


def _eligible(
    population: CaregiverPopulation, patient: PatientProfile, budget: int | None
) -> np.ndarray:
    province = patient.region_code.partition("_")[0]
    same = population.province == province
    if province in _CAPITAL:
        same = same | np.isin(population.province, list(_CAPITAL))
    if budget:
        same = same & (population.candidates.hourly_rate <= budget)
    return np.flatnonzero(same)


def simulate_history(
    n_requests: int,
    *,
    seed: int = 7,
    caregivers: int = 600,
    shown: int = 8,
    pool_size: tuple[int, int] = (12, 30),
) -> SimulatedHistory:
    """`n_requests` requests over the SIMULATION_DAYS before SIMULATION_END, time ordered."""
    rng = np.random.default_rng(seed)
    population = make_caregivers(rng, caregivers)
    mean_rating = population.platform_mean_rating
    rules = RuleScorer()
    observed, truth = FrameBuilder("simulation"), FrameBuilder("simulation")
    times = np.sort(SIMULATION_END - rng.random(n_requests) * SIMULATION_DAYS * 86_400)
    stats = {"requests": 0, "shown": 0, "selected": 0, "kept_4_weeks": 0, "rated": 0}
    for when in times:
        patient, request = make_patient(rng), make_request(rng)
        eligible = _eligible(population, patient, request.max_hourly_rate)
        if len(eligible) < 3:
            continue
        size = min(len(eligible), int(rng.integers(pool_size[0], pool_size[1] + 1)))
        pool_index = rng.choice(eligible, size=size, replace=False)
        pool = population.candidates.take(pool_index)
        # Availability is per request: most pool members cover every slot, some only part.
        partial = rng.random(size) < 0.35
        pool.covered_fraction = np.where(partial, rng.uniform(0.4, 1.0, size).round(2), 1.0)
        features = build_features(patient, request, pool, platform_mean_rating=mean_rating)
        utility = hidden_utility(patient, request, pool, population.quality[pool_index])
        is_new = pool.completed_matchings == 0
        gender = population.gender[pool_index]
        truth.add(when, features, _truth_grades(utility), is_new, gender)

        # What the platform recorded: the old system's exposure, then the guardian's choice.
        weights = np.exp(rules.score(features).scores / 6.0)
        shown_rows = rng.choice(
            size, size=min(shown, size), replace=False, p=weights / weights.sum()
        )
        outcome = np.full(len(shown_rows), float(NOT_CHOSEN))
        stats["requests"] += 1
        stats["shown"] += len(shown_rows)
        if rng.random() > 0.12:
            u = utility[shown_rows]
            p = np.exp((u - u.max()) / 0.6)
            chosen = rng.choice(len(shown_rows), p=p / p.sum())
            advantage = u[chosen] - np.median(utility)
            outcome[chosen] = CHOSEN
            stats["selected"] += 1
            if rng.random() < 1 / (1 + np.exp(-(2.0 * advantage - 1.0))):
                stats["kept_4_weeks"] += 1
                stats["rated"] += 1
                rating = np.clip(np.round(3.6 + 0.9 * advantage + rng.normal(0, 0.8)), 1, 5)
                outcome[chosen] = KEPT_AND_RATED_WELL if rating >= 4 else KEPT_4_WEEKS
        observed.add(when, features[shown_rows], outcome, is_new[shown_rows], gender[shown_rows])
    return SimulatedHistory(observed=observed.build(), truth=truth.build(), stats=stats)
