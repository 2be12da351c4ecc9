"""Reviews of completed matchings, and a caregiver's reviews."""

from __future__ import annotations

from models.common import Page
from models.reviews import CaregiverReviewsQuery, PublicReview, Review, ReviewIn
from models.vocabularies import Role
from shared.http import Api, ApiRequest
from shared.reviews import service

api = Api(tag="reviews")
bp = api.blueprint


@api.route(
    "POST",
    "api/matching-results/{matching_id:long}/reviews",
    name="reviews_create",
    body=ReviewIn,
    response=Review,
    status=201,
    errors=(404, 409, 422),
    roles=(Role.GUARDIAN, Role.CAREGIVER),
)
def create_review(request: ApiRequest) -> Review:
    """Review a completed matching (its guardian or its caregiver, once each)."""
    return service.create_review(request.uow, request.path_params["matching_id"], request.body)


@api.route(
    "GET",
    "api/caregivers/{caregiver_id:long}/reviews",
    name="reviews_list_for_caregiver",
    query=CaregiverReviewsQuery,
    response=Page[PublicReview],
    errors=(404, 422),
)
def list_for_caregiver(request: ApiRequest) -> Page[PublicReview]:
    """A caregiver's reviews by guardians, newest first, reviewer names masked."""
    query: CaregiverReviewsQuery = request.query
    return service.list_caregiver_reviews(
        request.uow,
        request.path_params["caregiver_id"],
        limit=query.limit,
        offset=query.offset,
    )
