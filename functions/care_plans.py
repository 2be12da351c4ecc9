"""Care plans: AI (or template) drafts of up to seven days, listed and confirmed."""

from __future__ import annotations

from models.benefit_usage import CarePlanConfirmed
from models.care_plans import CarePlan, CarePlanCreate, CarePlanQuery
from models.common import Page
from models.vocabularies import Role
from shared.benefits import usage_alerts
from shared.care_plans import service
from shared.http import Api, ApiRequest
from shared.http.route_spec import feeds

api = Api(tag="care-plans")
bp = api.blueprint

#: Only a guardian plans care (MANAGE); others get 403 before their input is read.
GUARDIAN_ONLY = (Role.GUARDIAN,)


@api.route(
    "POST",
    "api/patients/{patient_id:long}/care-plans",
    name="care_plans_create",
    roles=GUARDIAN_ONLY,
    body=CarePlanCreate,
    response=CarePlan,
    status=201,
    errors=(403, 404, 429),
    links=feeds("care_plan_id", "care_plans_confirm"),
)
def create_care_plan(request: ApiRequest) -> CarePlan:
    """Draft a care plan of 1..7 days (AI, or templates): one draft schedule a day."""
    return service.create_care_plan(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "GET",
    "api/patients/{patient_id:long}/care-plans",
    name="care_plans_list",
    query=CarePlanQuery,
    response=Page[CarePlan],
    errors=(403, 404),
)
def list_care_plans(request: ApiRequest) -> Page[CarePlan]:
    """The patient's care plans, newest first, with their days and activities."""
    return service.list_care_plans(request.uow, request.path_params["patient_id"], request.query)


@api.route(
    "POST",
    "api/care-plans/{care_plan_id:long}/confirm",
    name="care_plans_confirm",
    roles=GUARDIAN_ONLY,
    response=CarePlanConfirmed,
    errors=(403, 404, 409),
)
def confirm_care_plan(request: ApiRequest) -> CarePlanConfirmed:
    """Confirm a draft plan: its days become scheduled (409 if a day already has one);
    `warnings` if they would pass the monthly cap."""
    return usage_alerts.confirm_care_plan(request.uow, request.path_params["care_plan_id"])
