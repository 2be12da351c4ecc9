"""The history features (prior visits to the patient, the guardian's rating): how they are built,
what the rule scorer makes of them, and that a model trained before they existed still loads
and scores (its manifest lists the older features)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import xgboost as xgb

from shared.matching.features import (
    FEATURE_INDEX,
    FEATURE_NAMES,
    LATER_FEATURES,
    MONOTONE_INCREASING,
    build_features,
    model_columns,
)
from shared.matching.history import CareHistory
from shared.matching.model_store import (
    Manifest,
    ModelIncompatibleError,
    build_scorer,
    check_compatible,
    sha256_hex,
)
from shared.matching.profiles import Candidates, PatientProfile, RequestProfile
from shared.matching.scoring import RULE_HISTORY_WEIGHTS, RuleScorer, ScoreCalibration

OLD_FEATURES = [name for name in FEATURE_NAMES if name not in LATER_FEATURES]
VISITS = FEATURE_INDEX["prior_visits_with_patient"]
RATING = FEATURE_INDEX["prior_rating_from_guardian"]


def pool(n: int) -> Candidates:
    return Candidates(
        caregiver_id=np.arange(1, n + 1, dtype=np.int64),
        personality=np.full((n, 4), 50.0),
        specialties=[frozenset({"dementia"})] * n,
        service_region=["SEOUL_GANGNAM"] * n,
        experience_years=np.full(n, 5.0),
        avg_rating=np.full(n, 4.5),
        total_reviews=np.full(n, 3.0),
        hourly_rate=np.full(n, 15000.0),
        covered_fraction=np.ones(n),
        completed_matchings=np.zeros(n),
    )


PATIENT = PatientProfile(
    personality=(50.0, 50.0, 50.0, 50.0),
    conditions=frozenset({"dementia"}),
    care_level="grade_3",
    mobility_status="independent",
    region_code="SEOUL_GANGNAM",
)
REQUEST = RequestProfile(
    care_type="caregiver",
    days=("mon",),
    time_slots=(("09:00", "12:00"),),
    max_hourly_rate=None,
    required_specialties=frozenset(),
    min_experience_years=0,
)


def features(history: CareHistory | None) -> np.ndarray:
    return build_features(PATIENT, REQUEST, pool(3), platform_mean_rating=4.0, history=history)


def test_history_features_are_log_scaled_visits_and_the_guardians_rating() -> None:
    history = CareHistory(
        completed_visits=np.array([0, 4, 30]),
        guardian_rating=np.array([np.nan, 5.0, 2.0]),
        continuing=np.array([False, True, False]),
    )

    x = features(history)

    np.testing.assert_allclose(x[:, VISITS], np.log1p([0, 4, 30]), rtol=1e-6)
    assert np.isnan(x[0, RATING])
    assert list(x[1:, RATING]) == [5.0, 2.0]
    assert set(LATER_FEATURES) <= MONOTONE_INCREASING
    assert FEATURE_NAMES[-len(LATER_FEATURES) :] == LATER_FEATURES


def test_without_history_nobody_has_served_the_patient() -> None:
    x = features(None)

    assert list(x[:, VISITS]) == [0.0, 0.0, 0.0]
    assert np.isnan(x[:, RATING]).all()
    np.testing.assert_array_equal(x, features(CareHistory.none(3)))


def test_the_rule_scorer_rewards_history_and_is_neutral_without_it() -> None:
    history = CareHistory(
        completed_visits=np.array([0, 20, 4]),
        guardian_rating=np.array([np.nan, 5.0, 1.0]),
        continuing=np.zeros(3, bool),
    )
    with_history = RuleScorer().score(features(history))
    without = RuleScorer().score(features(None))

    # No history: no points either way, the score of a caregiver who never served the patient.
    assert with_history.scores[0] == pytest.approx(without.scores[0])
    assert with_history.contributions[0, VISITS] == 0
    assert with_history.contributions[0, RATING] == 0
    # 20 visits and a 5: the whole +2.5 of each term.
    assert with_history.contributions[1, VISITS] == pytest.approx(
        RULE_HISTORY_WEIGHTS["prior_visits_with_patient"] / 2
    )
    assert with_history.contributions[1, RATING] == pytest.approx(2.5)
    assert with_history.scores[1] == pytest.approx(without.scores[1] + 5.0)
    # A rating of 1 costs 2.5 points, whatever the visits earn.
    assert with_history.contributions[2, RATING] == pytest.approx(-2.5)
    assert 0 < with_history.contributions[2, VISITS] < 2.5


def _old_model() -> bytes:
    rng = np.random.default_rng(11)
    x = rng.random((300, len(OLD_FEATURES))).astype(np.float32)
    label = (x[:, OLD_FEATURES.index("experience_years")] > 0.5).astype(float)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 1},
        xgb.DMatrix(x, label=label, feature_names=OLD_FEATURES),
        num_boost_round=5,
    )
    return bytes(booster.save_raw(raw_format="ubj"))


def _manifest(raw: bytes, names: list[str]) -> Manifest:
    return Manifest(
        version="old-model",
        objective="binary:logistic",
        feature_names=names,
        xgboost_version=xgb.__version__,
        sha256=sha256_hex(raw),
        size_bytes=len(raw),
        trained_at=datetime(2026, 11, 1, tzinfo=UTC),
        score_calibration={"method": "logistic", "a": 0.0, "b": 1.0},
    )


def test_a_model_trained_before_the_history_features_still_loads_and_scores() -> None:
    raw = _old_model()
    scorer = build_scorer(_manifest(raw, OLD_FEATURES), raw)
    rng = np.random.default_rng(12)
    x = rng.random((20, len(FEATURE_NAMES))).astype(np.float32)

    scored = scorer.score(x)

    old_columns = [FEATURE_INDEX[name] for name in OLD_FEATURES]
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    expected = booster.inplace_predict(x[:, old_columns], predict_type="margin")
    np.testing.assert_allclose(scorer.margins(x), expected, rtol=1e-5)
    assert scored.scores.shape == (20,)
    assert scored.contributions.shape == (20, len(FEATURE_NAMES))
    # The history columns mean nothing to it: changing them changes no score.
    x[:, [VISITS, RATING]] = 9.0
    np.testing.assert_allclose(scorer.score(x).scores, scored.scores)
    assert (scored.contributions[:, [VISITS, RATING]] == 0).all()


@pytest.mark.parametrize(
    "names",
    [
        [name for name in FEATURE_NAMES if name != "experience_years"],  # a core feature
        [*OLD_FEATURES, "caregiver_age"],  # unknown
        [*reversed(OLD_FEATURES)],  # another order
        [*OLD_FEATURES, LATER_FEATURES[1], LATER_FEATURES[0]],
    ],
)
def test_other_feature_lists_are_still_refused(names: list[str]) -> None:
    with pytest.raises(ValueError, match="feature list differs"):
        model_columns(names)
    with pytest.raises(ModelIncompatibleError, match="feature list differs"):
        check_compatible(_manifest(b"x", names))


def test_the_current_and_the_older_lists_are_compatible() -> None:
    assert model_columns(FEATURE_NAMES) == tuple(range(len(FEATURE_NAMES)))
    assert model_columns(OLD_FEATURES) == tuple(range(len(OLD_FEATURES)))
    check_compatible(_manifest(b"x", OLD_FEATURES))
    check_compatible(_manifest(b"x", list(FEATURE_NAMES)))
    assert ScoreCalibration.from_dict({"method": "logistic", "a": 0, "b": 1}).b == 1
