"""The catch-all route: unknown paths (404), wrong methods (405) and CORS preflights."""

from __future__ import annotations

from shared.http import Api, default_registry
from shared.http.fallback import unmatched_route_handler

api = Api(tag="fallback")
bp = api.blueprint
api.fallback(name="route_not_found", handler=unmatched_route_handler(default_registry))
