"""Scorers: feature rows in, 0..100 scores and per-feature contributions out.

Two implementations of one protocol:

- `XGBoostScorer`, the trained model (UBJSON, verified against its manifest before it gets
  here). Raw model outputs ("margins") are mapped to 0..100 by a logistic squashing whose two
  parameters were fitted on the validation requests at training time and are stored in the
  manifest: `score = 100 / (1 + exp(-(a + b * margin)))`, with `a`, `b` chosen so the median
  candidate scores 60 and the 95th percentile 90 (the B and A+ cut-offs of API.md). It is the
  same for `rank:ndcg` (margins are ranking scores with no absolute meaning) and
  `binary:logistic` (margins are log-odds, but of a rare outcome, which would put every score
  near 0): the score orders candidates exactly as the model does and is comparable between
  requests, but it is not a probability.
  Contributions are XGBoost's `pred_contribs` (SHAP values, in margin units, bias dropped),
  computed only for the rows that will be shown (`top_k`), because they cost far more than the
  prediction itself.
- `RuleScorer`, the documented fallback (`XGBOOST_MODEL_FALLBACK`): a weighted sum of terms in
  0..1 (see `RULE_WEIGHTS`). Each term earns `weight * term` points; the contribution of a term
  is its points minus the points a neutral (0.5) term would earn, so `score = 50 + sum of
  contributions`, and a positive contribution means "better than neutral on this term".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shared.matching.features import (
    FEATURE_INDEX,
    FEATURE_NAMES,
    PERSONALITY_FEATURES,
    model_columns,
)

if TYPE_CHECKING:
    import numpy as np

#: Scores at these margin quantiles anchor the logistic squashing of a model's output.
CALIBRATION_ANCHORS: tuple[tuple[float, float], ...] = ((0.50, 60.0), (0.95, 90.0))


@dataclass(frozen=True)
class ScoredCandidates:
    """Scores (n,) in 0..100 and contributions (n, F); rows never explained are NaN."""

    scores: np.ndarray
    contributions: np.ndarray

    def ranking(self, k: int | None = None) -> np.ndarray:
        """Row indices best first (ties keep the input order), at most `k` of them."""
        import numpy as np

        order = np.argsort(-np.asarray(self.scores, dtype=np.float64), kind="stable")
        return order if k is None else order[:k]


class Scorer(Protocol):
    kind: str  # "xgboost" | "rules"
    version: str

    def score(self, features: np.ndarray, *, top_k: int | None = None) -> ScoredCandidates:
        """Score every row; contributions at least for the `top_k` best rows (all if None),
        rows tied with the k-th best included, whatever tie-break the caller applies."""
        ...


# -- rules --------------------------------------------------------------------------------------

#: Points each term can earn; they add up to 100. Terms are in 0..1 (see `rule_terms`).
RULE_WEIGHTS: dict[str, float] = {
    # 25 points over the personality axes; term = 1 - difference.
    **{name: 25.0 / len(PERSONALITY_FEATURES) for name in PERSONALITY_FEATURES},
    "specialty_coverage": 20.0,  # term = share of the patient's conditions covered
    "service_need_coverage": 5.0,  # term = share of care needs (bedridden care, ...) offered
    "region_closeness": 15.0,  # term = closeness / 3
    "availability_coverage": 10.0,  # term = covered share of the requested slots
    "experience_years": 10.0,  # term = min(years, 20) / 20
    "rating_shrunk": 10.0,  # term = (shrunk rating - 3) / 2, clipped to 0..1
    "price_to_budget": 5.0,  # term = 1.5 - rate / budget, clipped (at budget: 0.5)
}
#: Points of the patient's own history with the caregiver, beside the 100 above: each term is
#: neutral (0.5, no points either way) without history, so a caregiver who never served the
#: patient scores as in rules-1; one who served often gains up to +2.5, the guardian's rating
#: of 5 +2.5 (of 1: -2.5). See `rule_terms`.
RULE_HISTORY_WEIGHTS: dict[str, float] = {
    "prior_visits_with_patient": 5.0,  # term = 0.5 + 0.5 * min(visits, 20) / 20 (log-scaled)
    "prior_rating_from_guardian": 5.0,  # term = (rating - 3) / 2, clipped; none is neutral
}
#: Completed visits to the patient beyond this many add nothing more to the rule score.
HISTORY_VISITS_CAP = 20.0
RULES_VERSION = "rules-2"
#: The value of a term the rules know nothing about (NaN feature): neither good nor bad.
NEUTRAL_TERM = 0.5


def rule_terms(features: np.ndarray) -> np.ndarray:
    """(n, F) terms in 0..1 for the weighted features (0 elsewhere; NaN becomes neutral)."""
    import numpy as np

    x = np.asarray(features, dtype=np.float64)
    terms = np.zeros_like(x)
    for name in PERSONALITY_FEATURES:
        terms[:, FEATURE_INDEX[name]] = 1.0 - x[:, FEATURE_INDEX[name]]
    for name in ("specialty_coverage", "service_need_coverage", "availability_coverage"):
        terms[:, FEATURE_INDEX[name]] = x[:, FEATURE_INDEX[name]]
    terms[:, FEATURE_INDEX["region_closeness"]] = x[:, FEATURE_INDEX["region_closeness"]] / 3.0
    terms[:, FEATURE_INDEX["experience_years"]] = (
        np.minimum(x[:, FEATURE_INDEX["experience_years"]], 20.0) / 20.0
    )
    terms[:, FEATURE_INDEX["rating_shrunk"]] = (x[:, FEATURE_INDEX["rating_shrunk"]] - 3.0) / 2.0
    terms[:, FEATURE_INDEX["price_to_budget"]] = 1.5 - x[:, FEATURE_INDEX["price_to_budget"]]
    visits = x[:, FEATURE_INDEX["prior_visits_with_patient"]]
    terms[:, FEATURE_INDEX["prior_visits_with_patient"]] = 0.5 + 0.5 * np.minimum(
        visits / math.log1p(HISTORY_VISITS_CAP), 1.0
    )
    terms[:, FEATURE_INDEX["prior_rating_from_guardian"]] = (
        x[:, FEATURE_INDEX["prior_rating_from_guardian"]] - 3.0
    ) / 2.0
    terms = np.clip(terms, 0.0, 1.0)
    return np.where(np.isnan(terms), NEUTRAL_TERM, terms)


_RULE_WEIGHT_VECTOR = tuple(
    RULE_WEIGHTS.get(name, RULE_HISTORY_WEIGHTS.get(name, 0.0)) for name in FEATURE_NAMES
)


class RuleScorer:
    """The documented rule scorer: serves whenever no valid model is loaded."""

    kind = "rules"

    def __init__(self, version: str = RULES_VERSION):
        self.version = version

    def score(self, features: np.ndarray, *, top_k: int | None = None) -> ScoredCandidates:
        import numpy as np

        weights = np.asarray(_RULE_WEIGHT_VECTOR)
        contributions = (rule_terms(features) - NEUTRAL_TERM) * weights
        scores = np.clip(50.0 + contributions.sum(axis=1), 0.0, 100.0)
        return ScoredCandidates(scores=scores, contributions=contributions)


# -- xgboost ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreCalibration:
    """score = 100 / (1 + exp(-(a + b * margin))); b > 0, so the order is the model's."""

    a: float
    b: float

    def apply(self, margins: np.ndarray) -> np.ndarray:
        import numpy as np

        z = self.a + self.b * np.asarray(margins, dtype=np.float64)
        return 100.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def as_dict(self) -> dict[str, Any]:
        return {"method": "logistic", "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreCalibration:
        if data.get("method", "logistic") != "logistic":
            raise ValueError(f"unknown score calibration method {data.get('method')!r}")
        a, b = float(data["a"]), float(data["b"])
        if not (math.isfinite(a) and math.isfinite(b) and b > 0):
            raise ValueError("score calibration needs finite a and a positive b")
        return cls(a=a, b=b)


def fit_calibration(margins: np.ndarray) -> ScoreCalibration:
    """The squashing that gives the CALIBRATION_ANCHORS scores at those margin quantiles."""
    import numpy as np

    (q_low, s_low), (q_high, s_high) = CALIBRATION_ANCHORS
    m = np.asarray(margins, dtype=np.float64)
    m_low, m_high = float(np.quantile(m, q_low)), float(np.quantile(m, q_high))

    def logit(score: float) -> float:
        p = score / 100.0
        return math.log(p / (1.0 - p))

    spread = m_high - m_low
    b = (logit(s_high) - logit(s_low)) / spread if spread > 1e-9 else 1.0
    return ScoreCalibration(a=logit(s_low) - b * m_low, b=b)


class XGBoostScorer:
    """A trained booster with its score calibration. Thread-safe: prediction does not mutate."""

    kind = "xgboost"

    def __init__(
        self,
        booster: Any,
        *,
        version: str,
        calibration: ScoreCalibration,
        feature_names: tuple[str, ...] = FEATURE_NAMES,
    ):
        self.booster = booster
        self.version = version
        self.calibration = calibration
        #: The model's own features (FEATURE_NAMES, or an older model's shorter list) and the
        #: columns of the full feature matrix they are (shared.matching.features.model_columns).
        self.feature_names = tuple(feature_names)
        self.columns = list(model_columns(self.feature_names))

    def _own_columns(self, features: np.ndarray) -> np.ndarray:
        import numpy as np

        x = np.asarray(features, dtype=np.float32)
        if len(self.columns) != len(FEATURE_NAMES):
            x = x[:, self.columns]
        return np.ascontiguousarray(x)

    @classmethod
    def from_ubj(
        cls,
        raw: bytes,
        *,
        version: str,
        calibration: ScoreCalibration,
        nthread: int = 1,
        feature_names: tuple[str, ...] | list[str] = FEATURE_NAMES,
    ) -> XGBoostScorer:
        """Load a UBJSON model from memory and check it can score a row of FEATURE_NAMES.

        `feature_names` is the model's list (its manifest's): an older model without the
        LATER_FEATURES scores on the columns it knows."""
        import numpy as np
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        # One thread per request: the host serves requests on several threads already.
        booster.set_param({"nthread": nthread})
        own = tuple(feature_names)
        if booster.num_features() != len(own):
            raise ValueError(
                f"the model expects {booster.num_features()} features, "
                f"its manifest lists {len(own)}"
            )
        names = booster.feature_names
        if names is not None and tuple(names) != own:
            raise ValueError("the model's feature names differ from its manifest's")
        scorer = cls(booster, version=version, calibration=calibration, feature_names=own)
        probe = scorer.margins(np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32))
        if not np.all(np.isfinite(probe)):
            raise ValueError("the model predicts a non-finite value")
        return scorer

    def margins(self, features: np.ndarray) -> np.ndarray:
        """Raw model output (before the calibration), one per row."""
        import numpy as np

        x = self._own_columns(features)
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        out = self.booster.inplace_predict(x, predict_type="margin", validate_features=False)
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """SHAP contributions (rows, F) in margin units, without the bias column."""
        import numpy as np
        import xgboost as xgb

        x = self._own_columns(features)
        if x.shape[0] == 0:
            return np.zeros((0, len(FEATURE_NAMES)))
        matrix = xgb.DMatrix(x, feature_names=list(self.feature_names), missing=np.nan, nthread=1)
        contribs = self.booster.predict(matrix, pred_contribs=True, validate_features=False)
        own = np.asarray(contribs, dtype=np.float64)[:, : len(self.feature_names)]
        # A feature the model does not know contributes nothing.
        out = np.zeros((x.shape[0], len(FEATURE_NAMES)))
        out[:, self.columns] = own
        return out

    def score(self, features: np.ndarray, *, top_k: int | None = None) -> ScoredCandidates:
        import numpy as np

        x = np.asarray(features, dtype=np.float32)
        scores = self.calibration.apply(self.margins(x))
        n = x.shape[0]
        contributions = np.full((n, len(FEATURE_NAMES)), np.nan)
        if top_k is None or top_k >= n:
            rows = np.arange(n)
        elif top_k <= 0:
            rows = np.zeros(0, dtype=np.int64)
        else:  # the top_k best, and any row tied with the k-th (callers break ties their way)
            kth = np.partition(scores, n - top_k)[n - top_k]
            rows = np.flatnonzero(scores >= kth)
        if len(rows):
            contributions[rows] = self.contributions(x[rows])
        return ScoredCandidates(scores=scores, contributions=contributions)
