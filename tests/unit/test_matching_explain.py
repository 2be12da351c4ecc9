"""Reasons: Korean sentences from the top positive contributions; never negative, never about a
protected attribute."""

from __future__ import annotations

import re

import numpy as np
import pytest

from shared.matching.explain import reasons
from shared.matching.features import FEATURE_INDEX, FEATURE_NAMES, build_features
from shared.matching.profiles import Candidates, PatientProfile, RequestProfile
from shared.matching.scoring import RuleScorer, XGBoostScorer
from tests.unit.test_matching_features import PATIENT, REQUEST, candidates

#: Every sentence explain may write. Anything else (a new template) must be added here on purpose.
ALLOWED = [
    r"[가-힣·]+ 돌봄 경력 \d+년",
    r"[가-힣·]+ 돌봄 가능",
    r"요양 경력 \d+년",
    r"[가-힣·]+ 서비스 제공",
    r"같은 시·군·구에서 활동",
    r"같은 시·도에서 활동",
    r"수도권 내 방문 가능",
    r"요청하신 요일·시간 (모두|대부분) 가능",
    r"평점 [45]\.\d점 \(후기 \d+건\)",
    r"예산보다 시간당 [\d,]+원 저렴",
    r"예산 범위 내 시급",
    r"[가-힣·]+ 성향이 환자분과 잘 맞음",
]
PROTECTED_WORDS = (
    "성별",
    "여성",
    "남성",
    "여자",
    "남자",
    "나이",
    "연령",
    "젊",
    "세 ",
    "살",
    "고령",
)


def assert_allowed(sentence: str) -> None:
    assert any(re.fullmatch(p, sentence) for p in ALLOWED), sentence
    assert not any(word in sentence for word in PROTECTED_WORDS), sentence


def rule_reasons(index: int, **kwargs) -> list[str]:
    pool = candidates()
    x = build_features(PATIENT, REQUEST, pool, platform_mean_rating=4.2)
    scored = RuleScorer().score(x)
    return reasons(PATIENT, REQUEST, pool, x, scored.contributions, index, **kwargs)


def test_the_strongest_terms_of_a_strong_candidate_become_reasons():
    assert rule_reasons(0) == [
        "치매·당뇨 돌봄 경력 8년",
        "같은 시·군·구에서 활동",
        "요청하신 요일·시간 모두 가능",
    ]
    assert len(rule_reasons(0, limit=5)) == 5
    assert rule_reasons(0, limit=1) == ["치매·당뇨 돌봄 경력 8년"]
    for sentence in rule_reasons(0, limit=10):
        assert_allowed(sentence)


def test_negative_contributions_never_become_reasons():
    pool = candidates()
    x = build_features(PATIENT, REQUEST, pool, platform_mean_rating=4.2)
    negative = -np.abs(RuleScorer().score(x).contributions) - 0.1
    assert reasons(PATIENT, REQUEST, pool, x, negative, 0, limit=10) == []
    unexplained = np.full_like(negative, np.nan)
    assert reasons(PATIENT, REQUEST, pool, x, unexplained, 0) == []


def test_a_positive_contribution_on_an_unfavourable_fact_says_nothing():
    """Candidate 2 (index 2): poorly rated, nothing covered, only capital-area close.

    Even if a model gave these features positive contributions, the facts do not support a
    favourable sentence, so none is written (except the true "수도권 내 방문 가능")."""
    pool = candidates()
    x = build_features(PATIENT, REQUEST, pool, platform_mean_rating=4.2)
    contributions = np.ones((len(pool), len(FEATURE_NAMES)))
    said = reasons(PATIENT, REQUEST, pool, x, contributions, 2, limit=20)
    assert "수도권 내 방문 가능" in said
    assert not [s for s in said if "평점" in s or "돌봄" in s or "성향" in s]
    # Context features (the patient's grade, conditions, mobility) never explain a caregiver.
    only_context = np.zeros_like(contributions)
    for name in ("care_level_severity", "condition_count", "mobility_level"):
        only_context[:, FEATURE_INDEX[name]] = 5.0
    assert reasons(PATIENT, REQUEST, pool, x, only_context, 0) == []


def test_personality_axes_are_combined_into_one_sentence():
    pool = candidates()
    x = build_features(PATIENT, REQUEST, pool, platform_mean_rating=4.2)
    contributions = np.zeros((len(pool), len(FEATURE_NAMES)))
    contributions[0, :4] = [0.4, 0.3, 0.2, 0.1]
    assert reasons(PATIENT, REQUEST, pool, x, contributions, 0) == [
        "공감·활동성 성향이 환자분과 잘 맞음"
    ]


@pytest.fixture(scope="module")
def simulated():
    """A small simulated history and a quickly trained model on it."""
    from training.simulate import make_caregivers, make_patient, make_request, simulate_history
    from training.train import TrainConfig, train_model

    history = simulate_history(300, seed=11)
    trained = train_model(history.observed, config=TrainConfig(objectives=("rank:ndcg",)))
    scorer = XGBoostScorer.from_ubj(
        trained.ubj_bytes(), version="t", calibration=trained.calibration
    )
    rng = np.random.default_rng(12)
    population = make_caregivers(rng, 200)
    cases = [(make_patient(rng), make_request(rng)) for _ in range(60)]
    return scorer, population, cases


def test_explanations_of_both_scorers_contain_no_protected_attribute(simulated):
    """Many requests, every shown candidate, both scorers: only allowed sentences.

    The simulated caregivers do have a gender and an age; neither reaches the features (the
    profiles have no such field), so no sentence can mention them."""
    scorer, population, cases = simulated
    said = 0
    for patient, request in cases:
        pool: Candidates = population.candidates.take(np.arange(0, 200, 7))
        x = build_features(patient, request, pool, platform_mean_rating=4.3)
        for current in (scorer, RuleScorer()):
            scored = current.score(x, top_k=5)
            for index in scored.ranking(5):
                for sentence in reasons(patient, request, pool, x, scored.contributions, index):
                    assert_allowed(sentence)
                    said += 1
    assert said > 300  # the check ran over plenty of real sentences


def test_patient_profile_has_no_protected_inputs():
    patient = PatientProfile(
        personality=None,
        conditions=frozenset(),
        care_level="none",
        mobility_status="independent",
        region_code="SEOUL_MAPO",
    )
    request = RequestProfile("caregiver", ("mon",), (("09:00", "12:00"),), None, frozenset(), 0)
    pool = candidates()
    x = build_features(patient, request, pool, platform_mean_rating=4.2)
    scored = RuleScorer().score(x)
    for index in range(len(pool)):
        for sentence in reasons(patient, request, pool, x, scored.contributions, index):
            assert_allowed(sentence)
