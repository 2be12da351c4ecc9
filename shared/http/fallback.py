"""What the catch-all route answers: 404 for unknown paths, 405 for wrong methods, and CORS
preflights for known paths. Registered by `Api.fallback` for every method at `{*path}`; the
Functions host prefers any more specific route, so this sees only what nothing else serves."""

from __future__ import annotations

from shared.config import get_settings
from shared.errors import MethodNotAllowedError, NotFoundError
from shared.http.cors import preflight_headers
from shared.http.request import ApiRequest, ApiResponse
from shared.http.route_spec import Handler, RouteRegistry


def unmatched_route_handler(registry: RouteRegistry) -> Handler:
    """A handler answering for every request no route of `registry` took."""

    def unmatched(request: ApiRequest) -> ApiResponse:
        served = registry.methods_for(request.path)
        if request.method == "OPTIONS":
            return _options(request, served)
        if served and request.method not in served:
            raise MethodNotAllowedError(
                f"{request.method} is not allowed for {request.path}.", allowed=served
            )
        raise NotFoundError(f"There is no route for {request.method} {request.path}.")

    return unmatched


def _options(request: ApiRequest, served: set[str]) -> ApiResponse:
    if not served:
        raise NotFoundError(f"There is no route for {request.path}.")
    requested = request.header("access-control-request-method")
    origin = request.header("origin")
    if origin and requested:
        headers = preflight_headers(
            get_settings(),
            origin,
            requested,
            request.header("access-control-request-headers"),
            served,
        )
        return ApiResponse(status=204, headers=headers)
    return ApiResponse(status=204, headers={"Allow": ", ".join(sorted(served | {"OPTIONS"}))})
