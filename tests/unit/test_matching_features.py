"""Features for ranking: one vectorised row per candidate, the same in training and serving."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from shared.matching.features import (
    CONTEXT_FEATURES,
    DEFAULT_PLATFORM_RATING,
    FEATURE_INDEX,
    FEATURE_NAMES,
    MONOTONE_INCREASING,
    build_features,
    care_needs,
    shrunk_rating,
)
from shared.matching.profiles import Candidates, PatientProfile, RequestProfile

PATIENT = PatientProfile(
    personality=(80.0, 30.0, 70.0, 40.0),
    conditions=frozenset({"dementia", "diabetes"}),
    care_level="grade_2",
    mobility_status="bedridden",
    region_code="SEOUL_GANGNAM",
)
REQUEST = RequestProfile(
    care_type="caregiver",
    days=("mon", "wed"),
    time_slots=(("09:00", "12:00"),),
    max_hourly_rate=20_000,
    required_specialties=frozenset(),
    min_experience_years=0,
)


def candidates() -> Candidates:
    return Candidates.from_rows(
        [
            {  # same district, covers both conditions, bedridden care, well rated
                "caregiver_id": 1,
                "personality": (75, 35, 70, 40),
                "specialties": {"dementia", "diabetes", "bedridden_care"},
                "service_region": "SEOUL_GANGNAM",
                "experience_years": 8,
                "avg_rating": 4.8,
                "total_reviews": 40,
                "hourly_rate": 16_000,
                "completed_matchings": 30,
            },
            {  # same province, one condition, no personality, new to the platform
                "caregiver_id": 2,
                "personality": None,
                "specialties": {"dementia"},
                "service_region": "SEOUL_MAPO",
                "experience_years": 2,
                "avg_rating": 0,
                "total_reviews": 0,
                "hourly_rate": 20_000,
                "covered_fraction": 0.5,
            },
            {  # the capital area only, nothing covered
                "caregiver_id": 3,
                "personality": (10, 90, 20, 90),
                "specialties": set(),
                "service_region": "GYEONGGI_GOYANG",
                "experience_years": 60,
                "avg_rating": 3.0,
                "total_reviews": 2,
                "hourly_rate": 12_000,
            },
            {  # another province (would not pass the region filter; the feature still says so)
                "caregiver_id": 4,
                "personality": (50, 50, 50, 50),
                "specialties": {"feeding_assist"},
                "service_region": "BUSAN_HAEUNDAE",
                "experience_years": 5,
                "avg_rating": 4.0,
                "total_reviews": 5,
                "hourly_rate": 15_000,
            },
        ]
    )


def column(x: np.ndarray, name: str) -> np.ndarray:
    return x[:, FEATURE_INDEX[name]]


def test_one_float32_row_per_candidate_with_every_named_feature():
    x = build_features(PATIENT, REQUEST, candidates(), platform_mean_rating=4.2)
    assert x.shape == (4, len(FEATURE_NAMES))
    assert x.dtype == np.float32
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert set(FEATURE_NAMES) >= MONOTONE_INCREASING
    assert set(FEATURE_NAMES) >= CONTEXT_FEATURES


def test_no_feature_and_no_profile_field_is_a_protected_attribute():
    words = {word for name in FEATURE_NAMES for word in name.split("_")}
    assert not words & {"gender", "sex", "age", "birth", "male", "female"}
    for profile in (PatientProfile, RequestProfile, Candidates):
        fields = {f.name for f in dataclasses.fields(profile)}
        assert not fields & {"gender", "age", "birth_date", "sex"}, profile


def test_personality_differences_are_absolute_and_nan_when_unknown():
    x = build_features(PATIENT, REQUEST, candidates(), platform_mean_rating=4.2)
    diffs = x[:, :4]
    assert diffs[0] == pytest.approx([0.05, 0.05, 0.0, 0.0])
    assert np.isnan(diffs[1]).all()
    assert diffs[2] == pytest.approx([0.7, 0.6, 0.5, 0.5])
    no_test = dataclasses.replace(PATIENT, personality=None)
    unknown = build_features(no_test, REQUEST, candidates(), platform_mean_rating=4)
    assert np.isnan(unknown[:, :4]).all()


def test_specialty_and_care_need_coverage():
    x = build_features(PATIENT, REQUEST, candidates(), platform_mean_rating=4.2)
    assert column(x, "specialty_coverage") == pytest.approx([1.0, 0.5, 0.0, 0.0])
    # bedridden: bedridden care and feeding assistance are needed.
    assert care_needs(PATIENT) == {"bedridden_care", "feeding_assist"}
    assert column(x, "service_need_coverage") == pytest.approx([0.5, 0.0, 0.0, 0.5])
    healthy = dataclasses.replace(PATIENT, conditions=frozenset(), mobility_status="independent")
    y = build_features(healthy, REQUEST, candidates(), platform_mean_rating=4.2)
    assert np.isnan(column(y, "specialty_coverage")).all()
    assert np.isnan(column(y, "service_need_coverage")).all()
    assert (column(y, "condition_count") == 0).all()


def test_region_closeness_levels():
    x = build_features(PATIENT, REQUEST, candidates(), platform_mean_rating=4.2)
    assert column(x, "region_closeness").tolist() == [3.0, 2.0, 1.0, 0.0]
    busan = dataclasses.replace(PATIENT, region_code="BUSAN_SAHA")
    y = build_features(busan, REQUEST, candidates(), platform_mean_rating=4.2)
    # Outside the capital area, Seoul and Gyeonggi are simply far away.
    assert column(y, "region_closeness").tolist() == [0.0, 0.0, 0.0, 2.0]


def test_rating_is_shrunk_toward_the_platform_mean_by_review_count():
    x = build_features(PATIENT, REQUEST, candidates(), platform_mean_rating=4.2)
    rating = column(x, "rating_shrunk")
    assert rating[1] == pytest.approx(4.2)  # no reviews: exactly the platform mean
    assert rating[0] == pytest.approx((4.8 * 40 + 4.2 * 5) / 45, abs=1e-5)
    assert 3.0 < rating[2] < 4.2  # two poor reviews move it only part of the way
    assert shrunk_rating(np.array([5.0]), np.array([0]), float("nan"))[0] == pytest.approx(
        DEFAULT_PLATFORM_RATING
    )


def test_budget_availability_experience_and_context():
    x = build_features(PATIENT, REQUEST, candidates(), platform_mean_rating=4.2)
    assert column(x, "price_to_budget") == pytest.approx([0.8, 1.0, 0.6, 0.75])
    assert column(x, "availability_coverage") == pytest.approx([1.0, 0.5, 1.0, 1.0])
    assert column(x, "experience_years").tolist() == [8.0, 2.0, 40.0, 5.0]  # capped at 40
    assert (column(x, "care_level_severity") == 5).all()
    assert (column(x, "condition_count") == 2).all()
    assert (column(x, "mobility_level") == 3).all()
    no_budget = dataclasses.replace(REQUEST, max_hourly_rate=None)
    y = build_features(PATIENT, no_budget, candidates(), platform_mean_rating=4.2)
    assert np.isnan(column(y, "price_to_budget")).all()


def test_rows_do_not_depend_on_the_other_candidates():
    """Vectorised, but each row is a function of its own caregiver only (order-free)."""
    pool = candidates()
    together = build_features(PATIENT, REQUEST, pool, platform_mean_rating=4.2)
    order = [2, 0, 3, 1]
    shuffled = build_features(PATIENT, REQUEST, pool.take(order), platform_mean_rating=4.2)
    np.testing.assert_array_equal(shuffled, together[order])
    for i in range(len(pool)):
        alone = build_features(PATIENT, REQUEST, pool.take([i]), platform_mean_rating=4.2)
        np.testing.assert_array_equal(alone[0], together[i])


def test_no_candidates_gives_an_empty_matrix():
    empty = candidates().take([])
    x = build_features(PATIENT, REQUEST, empty, platform_mean_rating=4.2)
    assert x.shape == (0, len(FEATURE_NAMES))
