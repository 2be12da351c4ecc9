"""The signed-in user's dashboard."""

from __future__ import annotations

from models.dashboard import CaregiverDashboard, Dashboard, GuardianDashboard
from models.vocabularies import Role
from shared.dashboard import service
from shared.http import Api, ApiRequest

api = Api(tag="dashboard")
bp = api.blueprint


@api.route(
    "GET",
    "api/users/me/dashboard",
    name="dashboard_me",
    response=Dashboard,
    roles=(Role.GUARDIAN, Role.CAREGIVER),
)
def my_dashboard(request: ApiRequest) -> GuardianDashboard | CaregiverDashboard:
    """The guardian's patients or the caregiver's assignments, with today's care (KST)."""
    return service.get_dashboard(request.uow)
