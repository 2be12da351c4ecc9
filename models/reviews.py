"""Reviews of completed matchings (API.md "Reviews and dashboard", "Caregivers")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from models.common import ApiModel, PageQuery, ResponseModel

MAX_COMMENT_LENGTH = 2000

#: Who wrote a review: the matching's guardian (rates the caregiver) or its caregiver.
ReviewerRole = Literal["guardian", "caregiver"]

Rating = Annotated[
    int,
    # Strict: `true` or `"5"` is not a rating.
    Field(strict=True, ge=1, le=5, description="1 (poor) .. 5 (excellent)."),
]


class ReviewIn(ApiModel):
    """A review of a completed matching by its guardian or its caregiver."""

    rating: Rating
    comment: Annotated[str, StringConstraints(max_length=MAX_COMMENT_LENGTH)] | None = Field(
        None, description=f"At most {MAX_COMMENT_LENGTH} characters."
    )

    @field_validator("comment")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class Review(ResponseModel):
    review_id: int
    matching_id: int
    caregiver_id: int
    reviewer_id: int
    reviewer_role: ReviewerRole
    rating: int
    comment: str | None
    created_at: datetime


class PublicReview(ResponseModel):
    """A guardian's review as anyone signed in sees it: the reviewer's name is masked."""

    review_id: int
    reviewer_role: ReviewerRole
    reviewer_name: str = Field(description='The reviewer\'s name masked, e.g. "김**".')
    rating: int
    comment: str | None
    created_at: datetime


class CaregiverReviewsQuery(PageQuery):
    """`?limit=&offset=` of a caregiver's reviews (newest first)."""
