"""Ranking quality on held-out requests: NDCG@k, recall@k, and who gets exposed in the top k.

All metrics are per request, then averaged over requests. A request's candidates are ranked by
score, ties kept in input order (so two scorers are compared on the same footing).

- NDCG@k: gain 2^relevance - 1, discount log2(position + 1), divided by the ideal ordering's.
  Requests where nobody is relevant are skipped (any order is ideal there).
- recall@k: of the request's relevant candidates (relevance >= `relevant_from`), the share found
  in the top k. On the simulation's truth these are the pool's true best five.
- exposure share of new caregivers: of all top-k slots, the share held by caregivers with no
  completed matching; the pool share is the baseline it is compared with.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.frame import RankingFrame


def _groups(group: np.ndarray) -> list[np.ndarray]:
    """Row indices of each request (rows of a request are contiguous)."""
    if len(group) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(group)]
    return [np.arange(s, e) for s, e in zip(starts, ends, strict=True)]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, kind="stable")[:k]


def ndcg_at_k(scores: np.ndarray, relevance: np.ndarray, group: np.ndarray, k: int = 5) -> float:
    values = []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for rows in _groups(group):
        rel = relevance[rows].astype(np.float64)
        if rel.max(initial=0) <= 0:
            continue
        gains = 2.0**rel - 1.0
        dcg = (gains[_top(scores[rows], k)] * discounts[: min(k, len(rows))]).sum()
        ideal = (np.sort(gains)[::-1][:k] * discounts[: min(k, len(rows))]).sum()
        values.append(dcg / ideal)
    return float(np.mean(values)) if values else float("nan")


def recall_at_k(
    scores: np.ndarray,
    relevance: np.ndarray,
    group: np.ndarray,
    k: int = 5,
    *,
    relevant_from: float = 2.0,
) -> float:
    values = []
    for rows in _groups(group):
        relevant = relevance[rows] >= relevant_from
        if not relevant.any():
            continue
        values.append(relevant[_top(scores[rows], k)].sum() / relevant.sum())
    return float(np.mean(values)) if values else float("nan")


def exposure_share(scores: np.ndarray, flag: np.ndarray, group: np.ndarray, k: int = 5) -> float:
    """Share of top-k slots held by rows where `flag` is true."""
    held = total = 0
    for rows in _groups(group):
        top = _top(scores[rows], k)
        held += int(flag[rows][top].sum())
        total += len(top)
    return held / total if total else float("nan")


def evaluate_scorer(
    score: Callable[[np.ndarray], np.ndarray],
    frame: RankingFrame,
    *,
    k: int = 5,
    relevant_from: float = 2.0,
) -> dict[str, float]:
    """The metrics of one scoring function (feature matrix -> scores) on a frame."""
    scores = np.asarray(score(frame.features), dtype=np.float64)
    metrics = {
        f"ndcg@{k}": ndcg_at_k(scores, frame.relevance, frame.group, k),
        f"recall@{k}": recall_at_k(
            scores, frame.relevance, frame.group, k, relevant_from=relevant_from
        ),
        f"new_caregiver_exposure@{k}": exposure_share(scores, frame.is_new, frame.group, k),
    }
    for cutoff in (1, 3, 10):
        metrics[f"ndcg@{cutoff}"] = ndcg_at_k(scores, frame.relevance, frame.group, cutoff)
    if frame.caregiver_gender is not None:
        male = frame.caregiver_gender == "male"
        metrics[f"male_caregiver_exposure@{k}"] = exposure_share(scores, male, frame.group, k)
    return metrics


def pool_baseline(frame: RankingFrame) -> dict[str, float]:
    """Shares in the candidate pools: what a ranking blind to the flag would expose on average."""
    out = {"new_caregiver_share": float(frame.is_new.mean()) if len(frame) else float("nan")}
    if frame.caregiver_gender is not None and len(frame):
        out["male_caregiver_share"] = float((frame.caregiver_gender == "male").mean())
    return out
