"""The training frame: one feature row per (request, candidate), rows grouped by request.

Requests are numbered 0..R-1 in time order and their rows are contiguous, which is what XGBoost's
`qid` needs and what the time split relies on. Plain numpy, no pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.matching.features import FEATURE_NAMES

#: Graded outcome of a shown candidate (the relevance label).
NOT_CHOSEN, CHOSEN, KEPT_4_WEEKS, KEPT_AND_RATED_WELL = 0, 1, 2, 3


@dataclass
class RankingFrame:
    features: np.ndarray  # (N, F) float32
    relevance: np.ndarray  # (N,) float32, graded 0..3
    group: np.ndarray  # (N,) int64 request number; contiguous, nondecreasing
    request_time: np.ndarray  # (R,) float64 epoch seconds, nondecreasing
    is_new: np.ndarray  # (N,) bool: the caregiver had no completed matching
    # Simulation only, for the fairness check in the report. Never a feature.
    caregiver_gender: np.ndarray | None = None  # (N,) "female" | "male"
    source: str = "simulation"

    @property
    def n_requests(self) -> int:
        return len(self.request_time)

    def __len__(self) -> int:
        return len(self.relevance)

    def group_sizes(self) -> np.ndarray:
        return np.bincount(self.group, minlength=self.n_requests)

    def select_requests(self, requests: np.ndarray) -> RankingFrame:
        """The frame of the given request numbers (sorted), renumbered from 0."""
        requests = np.unique(np.asarray(requests, dtype=np.int64))
        rows = np.isin(self.group, requests)
        renumber = np.full(self.n_requests, -1, dtype=np.int64)
        renumber[requests] = np.arange(len(requests))
        return RankingFrame(
            features=self.features[rows],
            relevance=self.relevance[rows],
            group=renumber[self.group[rows]],
            request_time=self.request_time[requests],
            is_new=self.is_new[rows],
            caregiver_gender=(
                None if self.caregiver_gender is None else self.caregiver_gender[rows]
            ),
            source=self.source,
        )

    def between(self, start: float = float("-inf"), end: float = float("inf")) -> RankingFrame:
        """The requests made at `start` <= time < `end`."""
        return self.select_requests(
            np.flatnonzero((self.request_time >= start) & (self.request_time < end))
        )

    @staticmethod
    def concat(frames: list[RankingFrame]) -> RankingFrame:
        """Several frames as one, requests re-ordered by time (stable)."""
        frames = [f for f in frames if f.n_requests]
        if not frames:
            return FrameBuilder().build()
        times = np.concatenate([f.request_time for f in frames])
        offsets = np.cumsum([0] + [f.n_requests for f in frames[:-1]])
        groups = np.concatenate([f.group + o for f, o in zip(frames, offsets, strict=True)])
        order = np.argsort(times, kind="stable")  # new number -> old number
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        new_group = rank[groups]
        rows = np.argsort(new_group, kind="stable")
        genders = (
            None
            if any(f.caregiver_gender is None for f in frames)
            else np.concatenate([f.caregiver_gender for f in frames])[rows]
        )
        return RankingFrame(
            features=np.concatenate([f.features for f in frames])[rows],
            relevance=np.concatenate([f.relevance for f in frames])[rows],
            group=new_group[rows],
            request_time=times[order],
            is_new=np.concatenate([f.is_new for f in frames])[rows],
            caregiver_gender=genders,
            source="+".join(sorted({f.source for f in frames})),
        )


@dataclass
class FrameBuilder:
    """Collects requests one at a time (in any order) and builds a time-ordered frame."""

    source: str = "simulation"
    _parts: list[tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = field(
        default_factory=list
    )

    def add(
        self,
        request_time: float,
        features: np.ndarray,
        relevance: np.ndarray,
        is_new: np.ndarray,
        gender: np.ndarray | None = None,
    ) -> None:
        if len(features):
            self._parts.append((request_time, features, relevance, is_new, gender))

    def build(self) -> RankingFrame:
        parts = sorted(self._parts, key=lambda p: p[0])
        width = len(FEATURE_NAMES)
        if not parts:
            return RankingFrame(
                features=np.zeros((0, width), np.float32),
                relevance=np.zeros(0, np.float32),
                group=np.zeros(0, np.int64),
                request_time=np.zeros(0),
                is_new=np.zeros(0, bool),
                source=self.source,
            )
        has_gender = all(p[4] is not None for p in parts)
        return RankingFrame(
            features=np.concatenate([p[1] for p in parts]).astype(np.float32),
            relevance=np.concatenate([p[2] for p in parts]).astype(np.float32),
            group=np.concatenate(
                [np.full(len(p[1]), i, dtype=np.int64) for i, p in enumerate(parts)]
            ),
            request_time=np.array([p[0] for p in parts], dtype=np.float64),
            is_new=np.concatenate([p[3] for p in parts]).astype(bool),
            caregiver_gender=np.concatenate([p[4] for p in parts]) if has_gender else None,
            source=self.source,
        )
