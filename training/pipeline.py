"""History in, a model directory out: what `manage.py train-model` and the demo model run.

The directory holds everything `publish-model` uploads:

    model.ubj       the booster (UBJSON)
    manifest.json   version, features, metrics, xgboost version, sha256, score calibration
    report/         report.json, report.md, feature_importance.png, ndcg_model_vs_rules.png
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from shared.matching.features import FEATURE_NAMES
from shared.matching.model_store import (
    MANIFEST_FILE,
    MODEL_FILE,
    REPORT_DIR,
    Manifest,
    new_version,
    sha256_hex,
)
from shared.matching.scoring import RuleScorer
from training.evaluate import evaluate_scorer, pool_baseline
from training.frame import RankingFrame
from training.report import write_report
from training.simulate import simulate_history
from training.train import TrainConfig, train_model


@dataclass
class TrainingOutcome:
    manifest: Manifest
    report: dict[str, Any]
    directory: Path
    report_paths: list[Path]


def _rules(features: np.ndarray) -> np.ndarray:
    return RuleScorer().score(features).scores


def train_and_write(
    output_dir: str | Path,
    *,
    requests: int = 3000,
    seed: int = 7,
    history: RankingFrame | None = None,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] = print,
) -> TrainingOutcome:
    """Simulate `requests` requests (0: none), add `history`, train, evaluate, write."""
    config = config or TrainConfig(seed=seed)
    frames: list[RankingFrame] = []
    truth: RankingFrame | None = None
    stats: dict[str, Any] = {}
    if requests > 0:
        progress(f"simulating a platform history: {requests} requests (seed {seed})")
        simulated = simulate_history(requests, seed=seed)
        frames.append(simulated.observed)
        truth = simulated.truth
        stats = simulated.stats
        progress(
            "  shown {shown}, selected {selected}, kept 4+ weeks {kept_4_weeks}".format(**stats)
        )
    if history is not None and history.n_requests:
        progress(f"adding {history.n_requests} requests of recorded history ({len(history)} rows)")
        frames.append(history)
    observed = RankingFrame.concat(frames)
    if observed.n_requests == 0:
        raise ValueError("no training data: simulate some requests or add recorded history")

    progress(f"training on {observed.n_requests} requests ({len(observed)} rows)")
    model = train_model(observed, config=config, calibration_frame=truth, progress=progress)

    held_observed = observed.select_requests(model.split.test)
    held_truth = truth.between(model.split.test_from) if truth is not None else None
    if held_truth is not None and held_truth.n_requests:
        held, evaluated_on = held_truth, "simulated truth: whole candidate pools"
    else:
        held, evaluated_on = held_observed, "recorded outcomes of the shown candidates"
    model_metrics = evaluate_scorer(model.margins, held)
    rule_metrics = evaluate_scorer(_rules, held)
    ratio = model_metrics["ndcg@5"] / rule_metrics["ndcg@5"] if rule_metrics["ndcg@5"] else None
    headline = {
        "evaluated_on": evaluated_on,
        "held_out_requests": held.n_requests,
        "ndcg@5_model": model_metrics["ndcg@5"],
        "ndcg@5_rules": rule_metrics["ndcg@5"],
        "ndcg@5_ratio": ratio,
        "recall@5_model": model_metrics["recall@5"],
        "recall@5_rules": rule_metrics["recall@5"],
        "new_caregiver_exposure@5_model": model_metrics["new_caregiver_exposure@5"],
        "new_caregiver_exposure@5_rules": rule_metrics["new_caregiver_exposure@5"],
        "new_caregiver_share_of_pool": pool_baseline(held)["new_caregiver_share"],
    }
    progress(
        f"held-out NDCG@5 ({evaluated_on}): model {headline['ndcg@5_model']:.4f}, "
        f"rules {headline['ndcg@5_rules']:.4f} (x{ratio or float('nan'):.3f})"
    )
    progress(
        f"held-out recall@5: model {headline['recall@5_model']:.4f}, "
        f"rules {headline['recall@5_rules']:.4f}; new caregivers in top-5: model "
        f"{headline['new_caregiver_exposure@5_model']:.1%}, rules "
        f"{headline['new_caregiver_exposure@5_rules']:.1%} "
        f"(pool {headline['new_caregiver_share_of_pool']:.1%})"
    )

    raw = model.ubj_bytes()
    trained_at = datetime.now(UTC).replace(microsecond=0)
    sha = sha256_hex(raw)
    version = new_version(sha, trained_at)
    sources = sorted(set(observed.source.split("+")))
    training = {
        "requests": observed.n_requests,
        "rows": len(observed),
        "sources": sources,
        "seed": seed,
        "simulation": stats,
        "best_iteration": model.best_iteration,
        "validation_ndcg@5": model.validation,
        "monotone_increasing": [
            n for n, c in zip(FEATURE_NAMES, _constraints(), strict=True) if c > 0
        ],
    }
    manifest = Manifest(
        version=version,
        objective=model.objective,
        feature_names=list(FEATURE_NAMES),
        metrics={k: v for k, v in headline.items() if v is not None},
        xgboost_version=xgb.__version__,
        sha256=sha,
        size_bytes=len(raw),
        trained_at=trained_at,
        score_calibration=model.calibration.as_dict(),
        training=training,
    )
    report = {
        "version": version,
        "objective": model.objective,
        "trees": model.best_iteration + 1,
        "trained_at": trained_at.isoformat(),
        "training": training,
        "split": {
            "train": len(model.split.train),
            "valid": len(model.split.valid),
            "test": len(model.split.test),
        },
        "validation_ndcg@5": model.validation,
        "headline": headline,
        "held_out": {"model": model_metrics, "rules": rule_metrics, "pool": pool_baseline(held)},
        "held_out_observed": (
            {
                "model": evaluate_scorer(model.margins, held_observed),
                "rules": evaluate_scorer(_rules, held_observed),
            }
            if held is not held_observed
            else None
        ),
        "feature_importance": model.importance,
        "score_calibration": model.calibration.as_dict(),
    }

    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_bytes(raw)
    (directory / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    report_paths = write_report(report, model.importance, directory / REPORT_DIR)
    progress(f"wrote {directory / MODEL_FILE} (version {version}) and {directory / REPORT_DIR}/")
    return TrainingOutcome(manifest, report, directory, report_paths)


def _constraints() -> tuple[int, ...]:
    from training.train import monotone_constraints

    return monotone_constraints()
