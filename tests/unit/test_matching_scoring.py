"""Scorers: the XGBoost model and the rule fallback both serve 0..100 scores with contributions."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from models.vocabularies import grade_for
from shared.matching.features import FEATURE_INDEX, FEATURE_NAMES
from shared.matching.scoring import (
    RULE_WEIGHTS,
    RuleScorer,
    ScoreCalibration,
    Scorer,
    XGBoostScorer,
    fit_calibration,
)

F = len(FEATURE_NAMES)


def random_features(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, F)).astype(np.float32)
    x[:, FEATURE_INDEX["region_closeness"]] = rng.integers(0, 4, n)
    x[:, FEATURE_INDEX["experience_years"]] = rng.integers(0, 30, n)
    x[:, FEATURE_INDEX["rating_shrunk"]] = rng.uniform(3, 5, n)
    x[:, FEATURE_INDEX["review_count"]] = rng.integers(0, 50, n)
    x[:, FEATURE_INDEX["price_to_budget"]] = rng.uniform(0.5, 1.0, n)
    x[rng.random((n, F)) < 0.05] = np.nan
    return x


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    """A small booster where experience and specialty coverage drive the outcome."""
    x = random_features(400, seed=1)
    signal = np.nan_to_num(
        x[:, FEATURE_INDEX["experience_years"]] / 30 + x[:, FEATURE_INDEX["specialty_coverage"]]
    )
    matrix = xgb.DMatrix(x, label=(signal > 1.0).astype(float), feature_names=list(FEATURE_NAMES))
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 1},
        matrix,
        num_boost_round=20,
    )
    return bytes(booster.save_raw(raw_format="ubj"))


@pytest.fixture(scope="module")
def model(model_bytes: bytes) -> XGBoostScorer:
    margins = XGBoostScorer.from_ubj(
        model_bytes, version="probe", calibration=ScoreCalibration(0.0, 1.0)
    ).margins(random_features(300, seed=2))
    return XGBoostScorer.from_ubj(
        model_bytes, version="v-test", calibration=fit_calibration(margins)
    )


def test_both_scorers_serve_through_one_protocol(model: XGBoostScorer):
    x = random_features(50, seed=3)
    scorers: list[Scorer] = [model, RuleScorer()]
    for scorer in scorers:
        scored = scorer.score(x, top_k=5)
        assert scored.scores.shape == (50,)
        assert np.all((scored.scores >= 0) & (scored.scores <= 100))
        assert scored.contributions.shape == (50, F)
        top = scored.ranking(5)
        assert len(top) == 5
        assert np.all(np.diff(scored.scores[top]) <= 0)  # best first
        assert np.isfinite(scored.contributions[top]).all()
        assert all(grade_for(float(s)) in {"A+", "A", "B+", "B", "C"} for s in scored.scores)
    assert (model.kind, model.version) == ("xgboost", "v-test")
    assert (RuleScorer().kind, RuleScorer().version) == ("rules", "rules-2")


def test_model_scores_keep_the_models_order_and_explain_only_the_top_rows(model: XGBoostScorer):
    x = random_features(40, seed=4)
    scored = model.score(x, top_k=3)
    margins = model.margins(x)
    np.testing.assert_array_equal(
        np.argsort(-scored.scores, kind="stable")[:10], np.argsort(-margins, kind="stable")[:10]
    )
    explained = np.isfinite(scored.contributions).all(axis=1)
    third_best = scored.scores[scored.ranking(3)[-1]]
    # The three best, plus any candidate tied with the third (a small model has few values).
    assert set(np.flatnonzero(explained)) == set(np.flatnonzero(scored.scores >= third_best))
    assert 3 <= explained.sum() < 40
    assert np.isnan(scored.contributions[~explained]).all()


def test_model_contributions_add_up_to_the_margin(model: XGBoostScorer):
    """SHAP values without the bias: margin - sum(contributions) is the same bias for every row."""
    x = random_features(20, seed=5)
    scored = model.score(x)
    bias = model.margins(x) - scored.contributions.sum(axis=1)
    assert np.ptp(bias) < 1e-4


def test_calibration_puts_the_median_at_60_and_the_95th_percentile_at_90():
    margins = np.random.default_rng(6).normal(0.3, 2.0, 5000)
    calibration = fit_calibration(margins)
    scores = calibration.apply(margins)
    assert np.median(scores) == pytest.approx(60, abs=0.5)
    assert np.quantile(scores, 0.95) == pytest.approx(90, abs=0.5)
    assert calibration.b > 0
    assert ScoreCalibration.from_dict(calibration.as_dict()) == calibration
    with pytest.raises(ValueError, match="positive"):
        ScoreCalibration.from_dict({"method": "logistic", "a": 0, "b": -1})
    flat = fit_calibration(np.zeros(10))  # a constant model still maps to a valid score
    assert flat.apply(np.zeros(1))[0] == pytest.approx(60)


def test_a_model_with_other_features_is_refused():
    x = np.random.default_rng(7).random((50, F - 1))
    booster = xgb.train(
        {"objective": "binary:logistic", "nthread": 1},
        xgb.DMatrix(x, label=(x[:, 0] > 0.5).astype(float)),
        num_boost_round=2,
    )
    raw = bytes(booster.save_raw(raw_format="ubj"))
    with pytest.raises(ValueError, match="features"):
        XGBoostScorer.from_ubj(raw, version="bad", calibration=ScoreCalibration(0, 1))


def test_rule_weights_are_documented_and_add_up_to_100():
    assert sum(RULE_WEIGHTS.values()) == pytest.approx(100)
    assert set(RULE_WEIGHTS) <= set(FEATURE_NAMES)


def test_rule_score_is_50_plus_its_contributions_and_nan_is_neutral():
    x = random_features(30, seed=8)
    scored = RuleScorer().score(x)
    np.testing.assert_allclose(scored.scores, 50 + scored.contributions.sum(axis=1))
    unknown = np.full((1, F), np.nan, dtype=np.float32)
    assert RuleScorer().score(unknown).scores[0] == pytest.approx(50)
    assert np.all(RuleScorer().score(unknown).contributions == 0)


def test_rules_prefer_the_better_candidate_on_each_term():
    base = np.full((1, F), np.nan, dtype=np.float32)
    better_than = {
        "specialty_coverage": (1.0, 0.0),
        "region_closeness": (3.0, 1.0),
        "availability_coverage": (1.0, 0.6),
        "experience_years": (12.0, 1.0),
        "rating_shrunk": (4.8, 3.5),
        "price_to_budget": (0.7, 1.0),
        "personality_diff_patience": (0.05, 0.6),
    }
    for name, (good, bad) in better_than.items():
        rows = np.repeat(base, 2, axis=0)
        rows[0, FEATURE_INDEX[name]] = good
        rows[1, FEATURE_INDEX[name]] = bad
        scored = RuleScorer().score(rows)
        assert scored.scores[0] > scored.scores[1], name
        assert scored.contributions[0, FEATURE_INDEX[name]] > 0, name


def test_empty_input_scores_nothing(model: XGBoostScorer):
    empty = np.zeros((0, F), dtype=np.float32)
    for scorer in (model, RuleScorer()):
        scored = scorer.score(empty, top_k=5)
        assert scored.scores.shape == (0,)
        assert scored.contributions.shape == (0, F)


def test_rows_tied_at_the_cut_are_all_explained(model: XGBoostScorer):
    x = np.repeat(random_features(1, seed=9), 6, axis=0)  # six identical candidates
    scored = model.score(x, top_k=2)
    assert np.isfinite(scored.contributions).all()
    assert np.isnan(model.score(random_features(6, seed=10), top_k=0).contributions).all()
