"""Matching: ranked caregivers for a request, the results, offers and the lifecycle.
(The `model_refresh` timer lives with the other timers.)"""

from __future__ import annotations

from models.common import Page
from models.matching import (
    Match,
    MatchingRequestIn,
    MatchingResponse,
    MatchingResultsQuery,
    MatchTransition,
    OfferList,
)
from models.vocabularies import Role
from shared.http import Api, ApiRequest
from shared.http.route_spec import feeds
from shared.matching import service

api = Api(tag="matching")
bp = api.blueprint


@api.route(
    "POST",
    "api/patients/{patient_id:long}/matching-requests",
    name="matching_create_request",
    body=MatchingRequestIn,
    response=MatchingResponse,
    status=201,
    errors=(403, 404, 422, 429, 503),
    # The first (best) result's matching goes through its lifecycle and reviews.
    links={
        **feeds("patient_id", "matching_list_results"),
        **feeds(
            "results/0/matching_id",
            "matching_select",
            "matching_accept",
            "matching_decline",
            "matching_complete",
            "matching_cancel",
            "reviews_create",
        ),
        **feeds(
            "results/0/caregiver/caregiver_id", "caregivers_get_card", "reviews_list_for_caregiver"
        ),
    },
)
def create_request(request: ApiRequest) -> MatchingResponse:
    """Rank caregivers for the patient (hard filters, then the model) and store the top_k."""
    return service.create_request(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "GET",
    "api/patients/{patient_id:long}/matching-results",
    name="matching_list_results",
    query=MatchingResultsQuery,
    response=Page[Match],
    errors=(403, 404),
)
def list_results(request: ApiRequest) -> Page[Match]:
    """The patient's matching results, optionally of one status."""
    query: MatchingResultsQuery = request.query
    return service.list_results(
        request.uow,
        request.path_params["patient_id"],
        status=str(query.status) if query.status else None,
        limit=query.limit,
        offset=query.offset,
    )


def _transition_route(action: str, who: str) -> None:
    def handler(request: ApiRequest) -> MatchTransition:
        return service.transition(request.uow, request.path_params["matching_id"], action)

    handler.__doc__ = f"{action.capitalize()} a matching ({who})."
    api.route(
        "POST",
        f"api/matching-results/{{matching_id:long}}/{action}",
        name=f"matching_{action}",
        response=MatchTransition,
        errors=(403, 404, 409),
    )(handler)


for _action, _who in (
    ("select", "the patient's guardian"),
    ("accept", "the matching's caregiver"),
    ("decline", "the matching's caregiver"),
    ("complete", "the patient's guardian"),
    ("cancel", "either party"),
):
    _transition_route(_action, _who)


@api.route(
    "GET",
    "api/caregivers/me/offers",
    name="matching_offers",
    response=OfferList,
    roles=(Role.CAREGIVER,),
)
def offers(request: ApiRequest) -> OfferList:
    """Selected matchings waiting for the signed-in caregiver's answer."""
    return service.offers(request.uow)
