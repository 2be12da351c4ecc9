"""Long-term-care benefits (노인장기요양보험): the patient's long-term-care profile and the monthly
statement (shared.benefits). Only the owning guardian and operators may call these routes."""

from __future__ import annotations

from models.benefits import LtcProfileHistory, LtcProfileUpdate, MonthStatement
from models.vocabularies import Role
from shared.benefits import profiles, statements
from shared.http import Api, ApiRequest

api = Api(tag="benefits")
bp = api.blueprint

OWNER_OR_OPERATOR = (Role.GUARDIAN, Role.ADMIN)
PATIENT = "api/patients/{patient_id:long}"


@api.route(
    "GET",
    PATIENT + "/ltc-profile",
    name="benefits_get_profile",
    roles=OWNER_OR_OPERATOR,
    response=LtcProfileHistory,
    errors=(403, 404),
)
def get_profile(request: ApiRequest) -> LtcProfileHistory:
    """The patient's long-term-care profile in force today and its history (audited)."""
    return profiles.get_profile(request.uow, request.path_params["patient_id"])


@api.route(
    "PUT",
    PATIENT + "/ltc-profile",
    name="benefits_put_profile",
    roles=OWNER_OR_OPERATOR,
    body=LtcProfileUpdate,
    response=LtcProfileHistory,
    errors=(403, 404, 422),
)
def put_profile(request: ApiRequest) -> LtcProfileHistory:
    """Record a long-term-care profile from effective_from on (earlier ones kept; audited)."""
    return profiles.set_profile(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "GET",
    PATIENT + "/statements/{month}",
    name="benefits_get_statement",
    roles=OWNER_OR_OPERATOR,
    response=MonthStatement,
    errors=(403, 404, 422),
)
def get_statement(request: ApiRequest) -> MonthStatement:
    """The month's statement (YYYY-MM): verified visits priced, cap, co-payment (audited)."""
    params = request.path_params
    return statements.get_statement(request.uow, params["patient_id"], params["month"])
