"""The HTTP adapter: the only part of `shared` that knows azure.functions."""

from shared.http.request import ApiRequest, ApiResponse
from shared.http.route_spec import RouteRegistry, RouteSpec, default_registry
from shared.http.routing import Api

__all__ = ["Api", "ApiRequest", "ApiResponse", "RouteRegistry", "RouteSpec", "default_registry"]
