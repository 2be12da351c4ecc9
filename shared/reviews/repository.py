"""SQL of reviews and of the caregiver rating they feed (the only writer of those columns).

The one-review-per-reviewer constraint is registered (shared.integrity): should two reviews of
one reviewer ever race past the matching lock, the second is told it was already reviewed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypedDict, cast

from models.reviews import ReviewerRole
from shared.db import Cursor
from shared.integrity import ConflictRule, register_constraints

#: What a reviewer who reviewed the matching before is told (409).
ALREADY_REVIEWED = "You have already reviewed this matching."

register_constraints({"reviews_one_per_reviewer_key": ConflictRule(ALREADY_REVIEWED)})


class MatchingPartiesRow(TypedDict):
    """A matching with its parties: the patient and the caregiver (with its user id)."""

    matching_id: int
    patient_id: int
    caregiver_id: int
    status: str  # a MatchingStatus code
    caregiver_user_id: int


class ReviewRow(TypedDict):
    """A stored review (the fields of `models.reviews.Review`)."""

    review_id: int
    matching_id: int
    caregiver_id: int
    reviewer_id: int
    reviewer_role: ReviewerRole
    rating: int
    comment: str | None
    created_at: datetime


class PublicReviewRow(TypedDict):
    """A guardian's review with the reviewer's (unmasked) name."""

    review_id: int
    reviewer_role: ReviewerRole
    rating: int
    comment: str | None
    created_at: datetime
    reviewer_name: str


def lock_matching(cur: Cursor, matching_id: int) -> MatchingPartiesRow | None:
    """The matching with its parties, row-locked until the transaction ends (None if missing).

    The lock serialises every review of one matching, so the duplicate check that follows sees
    a concurrent reviewer's committed row.
    """
    cur.execute(
        """
        SELECT m.matching_id, m.patient_id, m.caregiver_id, m.status,
               c.user_id AS caregiver_user_id
        FROM matching_results m JOIN caregivers c ON c.caregiver_id = m.caregiver_id
        WHERE m.matching_id = %s
        FOR UPDATE OF m
        """,
        (matching_id,),
    )
    return cast(MatchingPartiesRow | None, cur.fetchone())


def review_exists(cur: Cursor, matching_id: int, reviewer_id: int) -> bool:
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM reviews WHERE matching_id = %s AND reviewer_id = %s)"
        " AS found",
        (matching_id, reviewer_id),
    )
    row = cur.fetchone()
    return bool(row and row["found"])


def insert_review(
    cur: Cursor,
    *,
    matching_id: int,
    caregiver_id: int,
    reviewer_id: int,
    reviewer_role: ReviewerRole,
    rating: int,
    comment: str | None,
) -> ReviewRow:
    cur.execute(
        """
        INSERT INTO reviews (matching_id, caregiver_id, reviewer_id, reviewer_role, rating, comment)
        VALUES (%s, %s, %s, %s, %s, %s)
        RETURNING review_id, matching_id, caregiver_id, reviewer_id, reviewer_role, rating,
                  comment, created_at
        """,
        (matching_id, caregiver_id, reviewer_id, reviewer_role, rating, comment),
    )
    return cast(ReviewRow, cur.fetchone())


def lock_caregiver_rating(cur: Cursor, caregiver_id: int) -> None:
    """Row-lock the caregiver before its rating is recomputed.

    Reviews of *different* matchings of one caregiver do not share a matching lock. Without
    this lock, two such transactions could each recompute the average from a snapshot missing
    the other's review, and the last to commit would store a stale value. Taken before the
    review is inserted, it makes the later transaction wait, then read both reviews.
    """
    cur.execute(
        "SELECT caregiver_id FROM caregivers WHERE caregiver_id = %s FOR NO KEY UPDATE",
        (caregiver_id,),
    )


def counted_guardian_reviews(caregiver_sql: str, before_sql: str | None = None) -> str:
    """SQL of the rating rule's reviews: the guardian reviews of caregiver `caregiver_sql` that
    count toward its rating, one per guardian (its newest), optionally only those written before
    `before_sql` (training rates a caregiver as of each past request). Both arguments are SQL
    expressions of the caller's own text (a column or a parameter), never request input; the
    rows have one column, `rating`."""
    before = f" AND x.created_at < {before_sql}" if before_sql else ""
    return (
        "SELECT DISTINCT ON (x.reviewer_id) x.rating FROM reviews x"  # noqa: S608
        f" WHERE x.caregiver_id = {caregiver_sql} AND x.reviewer_role = 'guardian'{before}"
        " ORDER BY x.reviewer_id, x.created_at DESC, x.review_id DESC"
    )


def refresh_caregiver_ratings(cur: Cursor, caregiver_ids: Iterable[int]) -> None:
    """The one rating rule (docs/api.md: a guardian's review updates them): recompute each given
    caregiver's avg_rating (the mean of its guardians' ratings, 2 decimals; 0 with none) and
    total_reviews (how many guardians reviewed it) from the reviews table. One review counts per
    (guardian, caregiver) pair: a guardian's newest review of the caregiver replaces its older
    ones, so one guardian account completing many matchings cannot stack ratings.

    One statement however many caregivers (the CSV import passes every caregiver it reviewed); a
    caregiver whose values are unchanged is not written. The reviews service locks the caregiver
    first (`lock_caregiver_rating`), so concurrent reviews cannot store a stale value.
    """
    cur.execute(
        f"""
        UPDATE caregivers c SET avg_rating = s.avg_rating, total_reviews = s.total
        FROM (SELECT g.caregiver_id, coalesce(round(avg(r.rating), 2), 0) AS avg_rating,
                     count(r.rating) AS total
              FROM caregivers g LEFT JOIN LATERAL (
                  {counted_guardian_reviews("g.caregiver_id")}) r ON true
              WHERE g.caregiver_id = ANY(%s) GROUP BY g.caregiver_id) AS s
        WHERE c.caregiver_id = s.caregiver_id
          AND (c.avg_rating, c.total_reviews) IS DISTINCT FROM (s.avg_rating, s.total)
        """,  # noqa: S608  (constant fragments only)
        (list(caregiver_ids),),
    )


def count_public_reviews(cur: Cursor, caregiver_id: int) -> int | None:
    """How many guardian reviews the caregiver has; None when there is no such caregiver."""
    cur.execute(
        """
        SELECT (SELECT count(*) FROM reviews r
                WHERE r.caregiver_id = c.caregiver_id AND r.reviewer_role = 'guardian') AS total
        FROM caregivers c JOIN users u ON u.user_id = c.user_id
        WHERE c.caregiver_id = %s AND u.deleted_at IS NULL
        """,
        (caregiver_id,),
    )
    row = cur.fetchone()
    return None if row is None else int(row["total"])


def list_public_reviews(
    cur: Cursor, caregiver_id: int, *, limit: int, offset: int
) -> list[PublicReviewRow]:
    """A page of the caregiver's guardian reviews, newest first, with the reviewer's name."""
    cur.execute(
        """
        SELECT r.review_id, r.reviewer_role, r.rating, r.comment, r.created_at,
               u.name AS reviewer_name
        FROM reviews r JOIN users u ON u.user_id = r.reviewer_id
        WHERE r.caregiver_id = %s AND r.reviewer_role = 'guardian'
        ORDER BY r.created_at DESC, r.review_id DESC
        LIMIT %s OFFSET %s
        """,
        (caregiver_id, limit, offset),
    )
    return cast(list[PublicReviewRow], cur.fetchall())
