"""Route declarations: one `Api` per area wraps a Functions Blueprint and records each route
(a `RouteSpec`, in shared.http.route_spec) on a registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.functions as func
from pydantic import BaseModel

from shared.http.pipeline import handle_http
from shared.http.route_spec import (
    Handler,
    Links,
    RouteRegistry,
    RouteSpec,
    default_registry,
    first_line,
)


class Api:
    """An area's routes: registers each on its Blueprint through the shared HTTP pipeline."""

    def __init__(self, tag: str, registry: RouteRegistry | None = None):
        self.tag = tag
        self.registry = registry if registry is not None else default_registry
        # azure-functions leaves Blueprint.__init__ unannotated (its mixins are typed).
        self.blueprint = func.Blueprint(  # type: ignore[no-untyped-call]
            http_auth_level=func.AuthLevel.ANONYMOUS
        )

    def route(
        self,
        method: str,
        path: str,
        *,
        name: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        public: bool = False,
        summary: str = "",
        errors: tuple[int, ...] = (),
        roles: tuple[str, ...] | None = None,
        links: Links | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. Handlers take an ApiRequest and return a model, dict, list,
        ApiResponse or None (204). Non-public routes require an authenticated caller; with
        `roles`, only callers of those roles (others get 403 before their input is read).
        `links` (see route_spec.feeds) become OpenAPI links on the success response."""

        def register(handler: Handler) -> Handler:
            spec = RouteSpec(
                name=name,
                method=method.upper(),
                path=path,
                handler=handler,
                body=body,
                query=query,
                response=response,
                status=status,
                public=public,
                summary=summary or first_line(handler.__doc__),
                tag=self.tag,
                errors=(*errors, 403) if roles else errors,
                roles=frozenset(str(r) for r in roles) if roles else None,
                links=dict(links or {}),
            )
            self.registry.add(spec)
            self._register_function(spec, methods=[spec.method])
            return handler

        return register

    def _register_function(self, spec: RouteSpec, methods: list[str] | None) -> None:
        def entry(req: func.HttpRequest) -> func.HttpResponse:
            return handle_http(spec, req)

        entry.__name__ = entry.__qualname__ = spec.name
        entry.__doc__ = spec.summary
        route = self.blueprint.route(
            route=spec.path, methods=methods, auth_level=func.AuthLevel.ANONYMOUS
        )
        self.blueprint.function_name(name=spec.name)(route(entry))

    def fallback(self, *, name: str, handler: Handler) -> None:
        """A catch-all route for every method (unknown paths, wrong methods, CORS preflight).

        It is not added to the registry: it is not part of the API's contract.
        """
        spec = RouteSpec(
            name=name, method="*", path="{*path}", handler=handler, public=True, tag=self.tag
        )
        self._register_function(spec, methods=None)
