"""Route declarations: one `Api` per area wraps a Functions Blueprint and records each route.

The record (`RouteSpec`) is what the pipeline validates against, what the OpenAPI document is
generated from, and what the catch-all route consults to tell 404 from 405 and to answer CORS
preflights. Route templates use the Functions syntax: `api/patients/{patient_id:int}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import azure.functions as func
from pydantic import BaseModel, TypeAdapter

from shared.http.request import ApiRequest

Handler = Callable[[ApiRequest], Any]

_PARAM = re.compile(r"\{(?P<star>\*)?(?P<name>\w+)(?P<constraints>(?::[^}?]+)*)(?P<opt>\?)?\}")
_INT_CONSTRAINTS = {"int", "long"}


@dataclass(frozen=True, eq=False)
class RouteSpec:
    name: str
    method: str
    path: str
    handler: Handler
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    public: bool = False
    summary: str = ""
    tag: str = ""
    errors: tuple[int, ...] = ()
    roles: frozenset[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def path_params(self) -> dict[str, type]:
        """Parameter name -> Python type (int for `{x:int}`, else str)."""
        params: dict[str, type] = {}
        for m in _PARAM.finditer(self.path):
            constraints = {c.split("(")[0] for c in m["constraints"].split(":") if c}
            params[m["name"]] = int if constraints & _INT_CONSTRAINTS else str
        return params

    @cached_property
    def openapi_path(self) -> str:
        return "/" + _PARAM.sub(lambda m: "{" + m["name"] + "}", self.path)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """A regex matching concrete paths of this template (for 404/405 and preflight)."""
        out, pos = [], 0
        for m in _PARAM.finditer(self.path):
            out.append(re.escape(self.path[pos : m.start()]))
            int_typed = self.path_params[m["name"]] is int
            if m["star"]:
                out.append(r"(?:.*)")
            else:
                out.append(r"(?:-?\d+)" if int_typed else r"(?:[^/]+)")
                if m["opt"]:
                    out[-1] += "?"
            pos = m.end()
        out.append(re.escape(self.path[pos:]))
        return re.compile("^/?" + "".join(out) + "/?$", re.IGNORECASE)

    @cached_property
    def response_adapter(self) -> TypeAdapter[Any] | None:
        return TypeAdapter(self.response) if self.response is not None else None


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


class RouteRegistry:
    """Every route declared through `Api` objects that share this registry."""

    def __init__(self) -> None:
        self._routes: list[RouteSpec] = []

    def add(self, spec: RouteSpec) -> None:
        if any(r.name == spec.name for r in self._routes):
            raise ValueError(f"duplicate function name: {spec.name}")
        self._routes.append(spec)

    def routes(self) -> list[RouteSpec]:
        return list(self._routes)

    def methods_for(self, path: str) -> set[str]:
        """The methods some route serves at this concrete path (empty: no route at all)."""
        return {r.method for r in self._routes if r.pattern.match(path)}


default_registry = RouteRegistry()


class Api:
    """An area's routes: registers each on its Blueprint through the shared HTTP pipeline."""

    def __init__(self, tag: str, registry: RouteRegistry | None = None):
        self.tag = tag
        self.registry = registry if registry is not None else default_registry
        self.blueprint = func.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)

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
    ) -> Callable[[Handler], Handler]:
        """Declare a route. Handlers take an ApiRequest and return a model, dict, list,
        ApiResponse or None (204). Non-public routes require an authenticated caller; with
        `roles`, only callers of those roles (others get 403 before their input is read)."""

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
                summary=summary or _first_line(handler.__doc__),
                tag=self.tag,
                errors=(*errors, 403) if roles else errors,
                roles=frozenset(str(r) for r in roles) if roles else None,
            )
            self.registry.add(spec)
            self._register_function(spec, methods=[spec.method])
            return handler

        return register

    def _register_function(self, spec: RouteSpec, methods: list[str] | None) -> None:
        from shared.http.pipeline import handle_http

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
