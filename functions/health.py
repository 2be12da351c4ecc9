"""Health endpoints: liveness for the platform probe, readiness with every dependency."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

import shared.health_checks  # noqa: F401  (registers the foundation's readiness checks)
from models.health import Liveness, Readiness, ReadinessStatus
from shared.config import get_settings
from shared.health import may_see_readiness_details, run_readiness
from shared.http import Api, ApiRequest, ApiResponse
from shared.http.pipeline import handle_http

api = Api(tag="health")
bp = api.blueprint


@api.route("GET", "health", name="health", public=True, response=Liveness)
def health(_request: ApiRequest) -> Liveness:
    """Liveness: answers without touching any dependency."""
    return Liveness(timestamp=datetime.now(UTC), version=get_settings().app_version)


_LIVENESS_SPEC = next(spec for spec in api.registry.routes() if spec.name == "health")


@bp.function_name(name="health_head")
@bp.route(route="health", methods=["HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def health_head(req: func.HttpRequest) -> func.HttpResponse:
    """`HEAD /health` (`curl -I`, uptime monitors): liveness's status and headers, no body.

    An HTTP courtesy of `GET /health`, not a route of the API's contract: it runs the same
    route through the pipeline and is neither in the OpenAPI document nor in api-routes.txt.
    """
    answer = handle_http(_LIVENESS_SPEC, req)
    return func.HttpResponse(status_code=answer.status_code, headers=dict(answer.headers))


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
