"""Visits: planning, check-in and check-out with evidence, cancel, review, the home's NFC tags
and location (shared.visits.service). Check-in and check-out accept `Idempotency-Key`
(shared.idempotency)."""

from __future__ import annotations

from models.common import Page
from models.visits import (
    AdminVisitsQuery,
    CheckIn,
    CheckOut,
    HomeLocation,
    HomeLocationOut,
    HomeTag,
    HomeTagCreate,
    HomeTagsQuery,
    Visit,
    VisitCancel,
    VisitPlan,
    VisitReview,
    VisitsQuery,
)
from models.vocabularies import Role
from shared.http import Api, ApiRequest, ApiResponse
from shared.http.route_spec import feeds
from shared.idempotency import respond_once
from shared.visits import service

api = Api(tag="visits")
bp = api.blueprint

PATIENT = "api/patients/{patient_id:long}"
VISIT = "api/visits/{visit_id:long}"
PLANNERS = (Role.GUARDIAN, Role.ADMIN)
CAREGIVER_ONLY = (Role.CAREGIVER,)
ADMIN_ONLY = (Role.ADMIN,)
VISIT_LINKS = feeds(
    "visit_id",
    "visits_get",
    "visits_check_in",
    "visits_check_out",
    "visits_cancel",
    "visits_review",
)


@api.route(
    "POST",
    PATIENT + "/visits",
    name="visits_plan",
    roles=PLANNERS,
    body=VisitPlan,
    response=Visit,
    status=201,
    errors=(404, 409),
    links=VISIT_LINKS,
)
def plan_visit(request: ApiRequest) -> Visit:
    """Plan a visit on one of the patient's schedules (owning guardian or an operator)."""
    return service.plan_visit(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "GET",
    PATIENT + "/visits",
    name="visits_list",
    query=VisitsQuery,
    response=Page[Visit],
    errors=(403, 404),
)
def list_visits(request: ApiRequest) -> Page[Visit]:
    """The patient's visits by planned start, with their evidence (`from`, `to`, `status`)."""
    return service.list_visits(request.uow, request.path_params["patient_id"], request.query)


@api.route("GET", VISIT, name="visits_get", response=Visit, errors=(403, 404))
def get_visit(request: ApiRequest) -> Visit:
    """One visit with the evidence of its check-in and check-out."""
    return service.get_visit(request.uow, request.path_params["visit_id"])


@api.route(
    "POST",
    VISIT + "/check-in",
    name="visits_check_in",
    roles=CAREGIVER_ONLY,
    body=CheckIn,
    response=Visit,
    errors=(404, 409),
)
def check_in(request: ApiRequest) -> ApiResponse:
    """Start the visit with evidence of presence (the visit's caregiver); Idempotency-Key."""
    visit_id = request.path_params["visit_id"]
    return respond_once(request, lambda: service.check_in(request.uow, visit_id, request.body))


@api.route(
    "POST",
    VISIT + "/check-out",
    name="visits_check_out",
    roles=CAREGIVER_ONLY,
    body=CheckOut,
    response=Visit,
    errors=(404, 409),
)
def check_out(request: ApiRequest) -> ApiResponse:
    """End the visit with evidence, summary and changes of condition; Idempotency-Key."""
    visit_id = request.path_params["visit_id"]
    return respond_once(request, lambda: service.check_out(request.uow, visit_id, request.body))


@api.route(
    "POST",
    VISIT + "/cancel",
    name="visits_cancel",
    body=VisitCancel,
    response=Visit,
    errors=(403, 404, 409),
)
def cancel_visit(request: ApiRequest) -> Visit:
    """Cancel a planned visit (its caregiver, the owning guardian or an operator)."""
    return service.cancel_visit(request.uow, request.path_params["visit_id"], request.body)


@api.route(
    "POST",
    VISIT + "/review",
    name="visits_review",
    roles=ADMIN_ONLY,
    body=VisitReview,
    response=Visit,
    errors=(404, 409),
)
def review_visit(request: ApiRequest) -> Visit:
    """Mark a visit recorded by hand (manual evidence) as reviewed (operators)."""
    return service.review_visit(request.uow, request.path_params["visit_id"], request.body)


@api.route(
    "GET",
    "api/admin/visits",
    name="visits_admin_list",
    roles=ADMIN_ONLY,
    query=AdminVisitsQuery,
    response=Page[Visit],
)
def admin_visits(request: ApiRequest) -> Page[Visit]:
    """Every patient's visits for operators; `needs_review=true`: the ones to review."""
    return service.review_queue(request.uow, request.query)


@api.route(
    "POST",
    PATIENT + "/home-tags",
    name="visits_add_home_tag",
    roles=PLANNERS,
    body=HomeTagCreate,
    response=HomeTag,
    status=201,
    errors=(404, 409),
)
def add_home_tag(request: ApiRequest) -> HomeTag:
    """Register an NFC tag to the patient's home (owning guardian or an operator)."""
    return service.add_home_tag(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "GET",
    PATIENT + "/home-tags",
    name="visits_list_home_tags",
    roles=PLANNERS,
    query=HomeTagsQuery,
    response=Page[HomeTag],
    errors=(404,),
)
def list_home_tags(request: ApiRequest) -> Page[HomeTag]:
    """The NFC tags registered to the patient's home, active first."""
    return service.list_home_tags(request.uow, request.path_params["patient_id"], request.query)


@api.route(
    "DELETE",
    PATIENT + "/home-tags/{tag_id:long}",
    name="visits_remove_home_tag",
    roles=PLANNERS,
    status=204,
    errors=(404,),
)
def remove_home_tag(request: ApiRequest) -> None:
    """Deactivate one of the home's NFC tags (its past evidence stays)."""
    service.remove_home_tag(
        request.uow, request.path_params["patient_id"], request.path_params["tag_id"]
    )


@api.route(
    "PUT",
    PATIENT + "/home-location",
    name="visits_set_home_location",
    roles=PLANNERS,
    body=HomeLocation,
    response=HomeLocationOut,
    errors=(404,),
)
def set_home_location(request: ApiRequest) -> HomeLocationOut:
    """Set the home's location, which GPS evidence is measured from."""
    return service.set_home_location(request.uow, request.path_params["patient_id"], request.body)
