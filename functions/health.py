"""Health endpoints: liveness for the platform probe, readiness with every dependency."""

from __future__ import annotations

from datetime import UTC, datetime

import shared.health_checks  # noqa: F401  (registers the foundation's readiness checks)
from models.health import Liveness, Readiness, ReadinessStatus
from shared.config import get_settings
from shared.health import may_see_readiness_details, run_readiness
from shared.http import Api, ApiRequest, ApiResponse

api = Api(tag="health")
bp = api.blueprint


@api.route("GET", "health", name="health", public=True, response=Liveness)
def health(_request: ApiRequest) -> Liveness:
    """Liveness: answers without touching any dependency."""
    return Liveness(timestamp=datetime.now(UTC), version=get_settings().app_version)


@api.route(
    "GET",
    "health/ready",
    name="health_ready",
    public=True,
    response=Readiness | ReadinessStatus,
    errors=(503,),
)
def health_ready(request: ApiRequest) -> ApiResponse:
    """Readiness: database, Blob Storage, Key Vault, matching model and Azure OpenAI.

    Everyone gets the overall status (and 503 when unhealthy); only an admin's bearer token
    gets the checks, whose details name hosts, ports, backup ages and the model version.
    """
    report = run_readiness()
    status = 503 if report.status == "unhealthy" else 200
    headers = {"Retry-After": "30"} if status == 503 else {}
    body: Readiness | ReadinessStatus = report
    if not may_see_readiness_details(request.header("Authorization")):
        body = ReadinessStatus(status=report.status)
    return ApiResponse(body=body, status=status, headers=headers)
