"""What the ranking model is told about a patient, a request and the caregivers that survived.

These are plain values, built by the matching service from the database (and by the training
code from history or simulation), so that features are computed the same way in both places.
Nothing here describes a caregiver's gender or age: the model never sees them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models.vocabularies import PERSONALITY_AXES as VOCABULARY_AXES

if TYPE_CHECKING:
    import numpy as np

#: The personality axes in the order every personality tuple and array uses (the vocabulary's).
PERSONALITY_AXES: tuple[str, ...] = VOCABULARY_AXES


@dataclass(frozen=True)
class PatientProfile:
    """The patient as ranking sees them (no name, age, gender or address)."""

    personality: tuple[float, float, float, float] | None  # PERSONALITY_AXES order, 0..100
    conditions: frozenset[str]  # Condition codes
    care_level: str  # CareLevel code
    mobility_status: str  # MobilityStatus code
    region_code: str  # e.g. "SEOUL_GANGNAM"


@dataclass(frozen=True)
class RequestProfile:
    """The guardian's matching request, as far as ranking is concerned."""

    care_type: str
    days: tuple[str, ...]
    time_slots: tuple[tuple[str, str], ...]  # ("09:00", "12:00")
    max_hourly_rate: int | None
    required_specialties: frozenset[str]
    min_experience_years: int


@dataclass
class Candidates:
    """Columnar data of the caregivers that passed the hard filters: entry i is one caregiver."""

    caregiver_id: np.ndarray  # int64 (n,)
    personality: np.ndarray  # float (n, 4) in PERSONALITY_AXES order; a NaN row when unknown
    specialties: list[frozenset[str]]  # Specialty codes
    service_region: list[str]  # region codes
    experience_years: np.ndarray  # (n,)
    avg_rating: np.ndarray  # (n,) 0..5, 0 when the caregiver has no reviews
    total_reviews: np.ndarray  # (n,)
    hourly_rate: np.ndarray  # (n,) KRW
    # Share of the request's (day, slot) pairs that one of the caregiver's available slots
    # covers: 1.0 after the hard filter, lower in history and simulation.
    covered_fraction: np.ndarray  # (n,)
    completed_matchings: np.ndarray  # (n,) 0 = new to the platform

    def __len__(self) -> int:
        return len(self.caregiver_id)

    def take(self, index: np.ndarray | list[int]) -> Candidates:
        """The candidates at `index`, in that order (a new object; arrays are copies)."""
        import numpy as np

        rows = np.asarray(index, dtype=np.int64)
        return Candidates(
            caregiver_id=self.caregiver_id[rows],
            personality=self.personality[rows],
            specialties=[self.specialties[i] for i in rows],
            service_region=[self.service_region[i] for i in rows],
            experience_years=self.experience_years[rows],
            avg_rating=self.avg_rating[rows],
            total_reviews=self.total_reviews[rows],
            hourly_rate=self.hourly_rate[rows],
            covered_fraction=self.covered_fraction[rows],
            completed_matchings=self.completed_matchings[rows],
        )

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> Candidates:
        """Build the columns from one mapping per caregiver (keys as the attributes; a missing
        `personality` is None, a missing `covered_fraction` is 1.0, `completed_matchings` 0)."""
        import numpy as np

        nan4 = (np.nan, np.nan, np.nan, np.nan)
        return cls(
            caregiver_id=np.array([int(r["caregiver_id"]) for r in rows], dtype=np.int64),
            personality=np.array(
                [tuple(r.get("personality") or nan4) for r in rows], dtype=np.float64
            ).reshape(len(rows), 4),
            specialties=[frozenset(r.get("specialties") or ()) for r in rows],
            service_region=[str(r["service_region"]) for r in rows],
            experience_years=np.array([float(r["experience_years"]) for r in rows]),
            avg_rating=np.array([float(r.get("avg_rating") or 0.0) for r in rows]),
            total_reviews=np.array([float(r.get("total_reviews") or 0) for r in rows]),
            hourly_rate=np.array([float(r["hourly_rate"]) for r in rows]),
            covered_fraction=np.array([float(r.get("covered_fraction", 1.0)) for r in rows]),
            completed_matchings=np.array([float(r.get("completed_matchings") or 0) for r in rows]),
        )
