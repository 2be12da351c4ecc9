"""Train the matching model: qid groups per request, time-split validation, objective choice.

- Split by time, never at random: the oldest requests train, the next ones validate (early
  stopping and the choice of objective), the newest are held out for the report. A random split
  would let the model see the future of the caregivers it is tested on.
- Two objectives compete: `rank:ndcg` (LambdaMART on the graded outcome, within each request) and
  `binary:logistic` (was the caregiver kept for 4+ weeks?). The one with the higher NDCG@5 on the
  validation requests wins.
- Monotone constraints where the direction is known (`MONOTONE_INCREASING`: coverage, experience,
  shrunk rating): the model may not learn that more experience is worse from a noisy corner of
  the data, and explanations stay sensible.
- Deterministic for a seed (hist method, fixed thread count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb

from shared.matching.features import FEATURE_NAMES, MONOTONE_INCREASING
from shared.matching.scoring import ScoreCalibration, fit_calibration
from training.evaluate import ndcg_at_k
from training.frame import KEPT_4_WEEKS, RankingFrame

OBJECTIVES: tuple[str, ...] = ("rank:ndcg", "binary:logistic")


@dataclass(frozen=True)
class TrainConfig:
    objectives: tuple[str, ...] = OBJECTIVES
    valid_fraction: float = 0.15
    test_fraction: float = 0.15
    num_boost_round: int = 400
    early_stopping_rounds: int = 30
    learning_rate: float = 0.08
    max_depth: int = 5
    min_child_weight: float = 2.0
    subsample: float = 0.8
    colsample_bytree: float = 0.9
    reg_lambda: float = 1.0
    nthread: int = 1  # the frames are small: one thread beats two on a shared, busy machine
    seed: int = 7


@dataclass(frozen=True)
class TimeSplit:
    """Request numbers of each part (frames number requests in time order), and the times
    where validation and the held-out part begin (to cut other frames the same way)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    valid_from: float
    test_from: float


def time_split(frame: RankingFrame, valid_fraction: float, test_fraction: float) -> TimeSplit:
    n_requests = frame.n_requests
    n_test = max(1, round(n_requests * test_fraction))
    n_valid = max(1, round(n_requests * valid_fraction))
    n_train = n_requests - n_valid - n_test
    if n_train < 10:
        raise ValueError(f"{n_requests} requests are too few to train on (at least 20 are needed)")
    ids = np.arange(n_requests)
    return TimeSplit(
        train=ids[:n_train],
        valid=ids[n_train : n_train + n_valid],
        test=ids[n_train + n_valid :],
        valid_from=float(frame.request_time[n_train]),
        test_from=float(frame.request_time[n_train + n_valid]),
    )


def monotone_constraints() -> tuple[int, ...]:
    return tuple(1 if name in MONOTONE_INCREASING else 0 for name in FEATURE_NAMES)


def _labels(frame: RankingFrame, objective: str) -> np.ndarray:
    if objective == "binary:logistic":
        return (frame.relevance >= KEPT_4_WEEKS).astype(np.float32)
    return frame.relevance


def _dmatrix(frame: RankingFrame, objective: str, nthread: int) -> xgb.DMatrix:
    return xgb.DMatrix(
        frame.features,
        label=_labels(frame, objective),
        qid=frame.group,
        feature_names=list(FEATURE_NAMES),
        missing=np.nan,
        nthread=nthread,
    )


def params_for(objective: str, config: TrainConfig) -> dict[str, Any]:
    params: dict[str, Any] = {
        "objective": objective,
        "eval_metric": "ndcg@5",
        "tree_method": "hist",
        "learning_rate": config.learning_rate,
        "max_depth": config.max_depth,
        "min_child_weight": config.min_child_weight,
        "subsample": config.subsample,
        "colsample_bytree": config.colsample_bytree,
        "reg_lambda": config.reg_lambda,
        "monotone_constraints": "(" + ",".join(map(str, monotone_constraints())) + ")",
        "nthread": config.nthread,
        "seed": config.seed,
    }
    if objective == "rank:ndcg":
        params["lambdarank_pair_method"] = "topk"
        params["lambdarank_num_pair_per_sample"] = 8
    return params


@dataclass
class Candidate:
    objective: str
    booster: xgb.Booster
    best_iteration: int
    validation_ndcg5: float


@dataclass
class TrainedModel:
    booster: xgb.Booster
    objective: str
    best_iteration: int
    calibration: ScoreCalibration
    split: TimeSplit
    validation: dict[str, float]  # NDCG@5 on the validation requests, per objective
    importance: dict[str, float] = field(default_factory=dict)  # total gain per feature

    def margins(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster.inplace_predict(
                np.ascontiguousarray(features, dtype=np.float32), predict_type="margin"
            ),
            dtype=np.float64,
        )

    def ubj_bytes(self) -> bytes:
        return bytes(self.booster.save_raw(raw_format="ubj"))


def train_model(
    observed: RankingFrame,
    *,
    config: TrainConfig | None = None,
    calibration_frame: RankingFrame | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> TrainedModel:
    """Fit every objective on the oldest requests, keep the best on the next ones.

    `calibration_frame` holds whole candidate pools when they are known (simulation); the score
    calibration is fitted on its requests of the validation period, because serving scores
    whole pools. Otherwise the shown candidates of the validation requests are used.
    """
    config = config or TrainConfig()
    split = time_split(observed, config.valid_fraction, config.test_fraction)
    train, valid = observed.select_requests(split.train), observed.select_requests(split.valid)
    progress(
        f"time split: {len(split.train)} train, {len(split.valid)} validation, "
        f"{len(split.test)} held-out requests ({len(train)} training rows)"
    )
    candidates: list[Candidate] = []
    for objective in config.objectives:
        dtrain = _dmatrix(train, objective, config.nthread)
        dvalid = _dmatrix(valid, objective, config.nthread)
        booster = xgb.train(
            params_for(objective, config),
            dtrain,
            num_boost_round=config.num_boost_round,
            evals=[(dvalid, "valid")],
            early_stopping_rounds=config.early_stopping_rounds,
            verbose_eval=False,
        )
        best = int(booster.best_iteration)
        booster = booster[: best + 1]  # keep the trees up to the best round only
        scores = booster.inplace_predict(valid.features, predict_type="margin")
        ndcg5 = ndcg_at_k(np.asarray(scores), valid.relevance, valid.group, 5)
        progress(f"  {objective:16} {best + 1:4d} trees, validation NDCG@5 {ndcg5:.4f}")
        candidates.append(Candidate(objective, booster, best, ndcg5))
    winner = max(candidates, key=lambda c: c.validation_ndcg5)
    progress(f"chosen objective: {winner.objective}")
    pools = valid
    if calibration_frame is not None:
        pools = calibration_frame.between(split.valid_from, split.test_from)
        pools = pools if len(pools) else valid
    margins = winner.booster.inplace_predict(pools.features, predict_type="margin")
    gains = winner.booster.get_score(importance_type="total_gain")
    return TrainedModel(
        booster=winner.booster,
        objective=winner.objective,
        best_iteration=winner.best_iteration,
        calibration=fit_calibration(np.asarray(margins)),
        split=split,
        validation={c.objective: c.validation_ndcg5 for c in candidates},
        importance={name: _total(gains.get(name, 0.0)) for name in FEATURE_NAMES},
    )


def _total(gain: float | list[float]) -> float:
    """A feature's total gain (xgboost gives a list only for multi-output trees)."""
    return float(sum(gain)) if isinstance(gain, list) else float(gain)
