"""reviews.csv: one review per review_id, upserted; then the reviewed caregivers' ratings.

Only a completed matching is reviewed, by its guardian or its caregiver, once per reviewer.
avg_rating and total_reviews of the caregivers the file reviewed are recomputed by the one rule
of the reviews area (`shared.reviews.repository.refresh_caregiver_ratings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared.data_import import labels
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, count, dangling, first_only, parse_rows
from shared.data_import.report import FileReport
from shared.db import Cursor
from shared.reviews.repository import refresh_caregiver_ratings

FILE = "reviews.csv"


@dataclass(frozen=True)
class ReviewRow:
    source_id: str
    matching_id: str
    reviewer_id: str
    reviewer_role: str
    rating: int
    comment: str | None
    created_at: datetime | None


def parse_review(row: CsvRow) -> ReviewRow:
    return ReviewRow(
        source_id=p.source_id(row["review_id"], "review_id"),
        matching_id=p.source_id(row["matching_id"], "matching_id"),
        reviewer_id=p.source_id(row["reviewer_id"], "reviewer_id"),
        reviewer_role=labels.reviewer_role(row["reviewer_type"]),
        rating=p.integer(row["rating"], "rating", low=1, high=5),
        comment=p.text(row["comment"], "comment", required=False, max_length=2000),
        created_at=p.timestamp(row["created_at"], "created_at"),
    )


def load_reviews(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = first_only(
        parse_rows(rows, report, parse_review),
        report,
        key=lambda item: item.source_id,
        what=lambda item: f"review_id {item.source_id!r}",
    )
    matching_ids = repo.resolve(cur, "matching", (r.matching_id for _, r in parsed))
    matchings = repo.matchings(cur, matching_ids.values())
    guardians = repo.resolve(
        cur, "guardian", (r.reviewer_id for _, r in parsed if r.reviewer_role == "guardian")
    )
    caregivers = repo.resolve(
        cur, "caregiver", (r.reviewer_id for _, r in parsed if r.reviewer_role == "caregiver")
    )
    guardian_users = repo.guardian_users(cur, guardians.values())
    caregiver_users = repo.caregiver_users(cur, caregivers.values())
    patient_guardians = repo.patient_guardians(cur, (m["patient_id"] for m in matchings.values()))
    known = repo.resolve(cur, "review", (r.source_id for _, r in parsed))

    # (matching_id, reviewer user) -> who holds it: a review_id, or ("file", source id).
    taken: dict[tuple[int, int], Any] = dict(repo.reviews_of_matchings(cur, matching_ids.values()))
    accepted: list[tuple[ReviewRow, repo.MatchingResultRow, int]] = []
    for row, r in parsed:
        reason, reviewer = _review_problem(
            r, matching_ids, matchings, guardians, caregivers, patient_guardians
        )
        if reason is None:
            matching = matchings[matching_ids[r.matching_id]]
            users = guardian_users if r.reviewer_role == "guardian" else caregiver_users
            pair = (matching["matching_id"], users[reviewer])
            holder = known.get(r.source_id, ("file", r.source_id))
            if taken.setdefault(pair, holder) != holder:
                reason = (
                    f"reviewer_id {r.reviewer_id!r} already reviewed matching_id {r.matching_id!r}"
                )
            else:
                accepted.append((r, matching, pair[1]))
        if reason:
            report.reject(row.line, reason)

    new = [r for r, _, _ in accepted if r.source_id not in known]
    ids = dict(known)
    ids.update(
        zip((r.source_id for r in new), repo.allocate_ids(cur, "review", len(new)), strict=True)
    )

    def values(r: ReviewRow, matching: repo.MatchingResultRow, user_id: int) -> repo.ReviewValues:
        return (
            ids[r.source_id],
            matching["matching_id"],
            matching["caregiver_id"],
            user_id,
            r.reviewer_role,
            r.rating,
            r.comment,
            r.created_at,
        )

    written = repo.update_reviews(cur, [values(*a) for a in accepted if a[0].source_id in known])
    repo.insert_reviews(cur, [values(*a) for a in accepted if a[0].source_id not in known])
    repo.remember(cur, "review", {r.source_id: ids[r.source_id] for r, _, _ in accepted})
    refresh_caregiver_ratings(cur, {m["caregiver_id"] for _, m, _ in accepted})
    count(report, ((r.source_id in known, ids[r.source_id] in written) for r, _, _ in accepted))
    for _, matching, _ in accepted:
        run.touch(matching["patient_id"], report.file)


def _review_problem(  # noqa: PLR0911 (one return per reason)
    r: ReviewRow,
    matching_ids: dict[str, int],
    matchings: dict[int, repo.MatchingResultRow],
    guardians: dict[str, int],
    caregivers: dict[str, int],
    patient_guardians: dict[int, tuple[int, int]],
) -> tuple[str | None, int]:
    """(reason to reject or None, the reviewer's guardian_id or caregiver_id)."""
    target = matching_ids.get(r.matching_id)
    if target is None:
        return dangling("matching_id", r.matching_id, "matching_results.csv"), 0
    matching = matchings[target]
    if r.reviewer_role == "guardian":
        reviewer = guardians.get(r.reviewer_id)
        if reviewer is None:
            return dangling("reviewer_id", r.reviewer_id, "patients_profile.csv"), 0
        if patient_guardians[matching["patient_id"]][0] != reviewer:
            return f"reviewer_id {r.reviewer_id!r} is not the guardian of this matching", 0
    else:
        reviewer = caregivers.get(r.reviewer_id)
        if reviewer is None:
            return dangling("reviewer_id", r.reviewer_id, "caregivers_profile.csv"), 0
        if matching["caregiver_id"] != reviewer:
            return f"reviewer_id {r.reviewer_id!r} is not the caregiver of this matching", 0
    if matching["status"] != "completed":
        return (
            f"matching_id {r.matching_id!r} is {matching['status']}, not completed"
            " (only completed matchings are reviewed)",
            0,
        )
    return None, reviewer
