"""The catch-all route: unknown paths (404), wrong methods (405) and CORS preflights.

Registered for every method at `{*path}`; the Functions host (and our local host) prefer any
more specific route, so this answers only what nothing else does.
"""

from __future__ import annotations

from shared.config import get_settings
from shared.errors import MethodNotAllowedError, NotFoundError
from shared.http import Api, ApiRequest, ApiResponse, default_registry
from shared.http.cors import preflight_headers

api = Api(tag="fallback")
bp = api.blueprint


def unmatched(request: ApiRequest) -> ApiResponse:
    served = default_registry.methods_for(request.path)
    if request.method == "OPTIONS":
        if not served:
            raise NotFoundError(f"There is no route for {request.path}.")
        requested = request.header("access-control-request-method")
        if request.header("origin") and requested:
            headers = preflight_headers(
                get_settings(),
                request.header("origin"),
                requested,
                request.header("access-control-request-headers"),
                served,
            )
            return ApiResponse(status=204, headers=headers)
        return ApiResponse(status=204, headers={"Allow": ", ".join(sorted(served | {"OPTIONS"}))})
    if served:
        raise MethodNotAllowedError(
            f"{request.method} is not allowed for {request.path}.", allowed=served
        )
    raise NotFoundError(f"There is no route for {request.method} {request.path}.")


api.fallback(name="route_not_found", handler=unmatched)
