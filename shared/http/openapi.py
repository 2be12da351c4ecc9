"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from models.common import Problem
from shared.http.route_spec import RouteRegistry, RouteSpec

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    304: "Not Modified",
    400: "Malformed JSON or query",
    401: "Missing or invalid token",
    403: "The caller's role may never do this",
    404: "Not found, or outside the caller's scope",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Request body too large",
    422: "Validation failed",
    429: "Too many requests",
    500: "Unexpected error",
    503: "A dependency is unavailable",
}


def build_openapi(registry: RouteRegistry, *, title: str, version: str) -> dict[str, Any]:
    """Paths, parameters, bodies and responses of every route in `registry`."""
    routes = sorted(registry.routes(), key=lambda r: (r.openapi_path, r.method))
    components = _Components(routes)
    _check_links(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = _operation(
            route, components
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "늘봄케어 (NeulbomCare) API. Errors are application/problem+json.",
        },
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _check_links(routes: list[RouteSpec]) -> None:
    """Every link names a declared operation and only parameters of that operation's path."""
    by_name = {route.name: route for route in routes}
    for route in routes:
        for operation, parameters in route.links.items():
            target = by_name.get(operation)
            if target is None:
                raise ValueError(f"{route.name}: link to an unknown operation {operation!r}")
            unknown = set(parameters) - set(target.path_params)
            if unknown:
                raise ValueError(
                    f"{route.name}: link to {operation} names parameters it lacks: "
                    f"{sorted(unknown)}"
                )


def _links(route: RouteSpec) -> dict[str, Any]:
    return {
        operation: {"operationId": operation, "parameters": dict(parameters)}
        for operation, parameters in sorted(route.links.items())
    }


def _models_of(route: RouteSpec) -> list[type[BaseModel]]:
    found = [m for m in (route.body, route.query) if m is not None]
    if isinstance(route.response, type) and issubclass(route.response, BaseModel):
        found.append(route.response)
    return found


class _Components:
    """The component schemas of every model the routes use, and how to refer to each.

    References come from pydantic's own mapping, so generic models (`Page[AuditEvent]`) get the
    key pydantic chose for them rather than a guess from the class name.
    """

    def __init__(self, routes: list[RouteSpec]):
        models: set[type[BaseModel]] = {Problem, *(m for r in routes for m in _models_of(r))}
        inputs: list[tuple[type[BaseModel], Literal["validation"]]] = [
            (m, "validation") for m in sorted(models, key=lambda m: m.__name__)
        ]
        refs, document = models_json_schema(inputs, ref_template=_REF)
        self.schemas: dict[str, Any] = document.get("$defs", {})
        self._refs = {model: ref for (model, _mode), ref in refs.items()}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        return dict(self._refs[model])

    def schema_of(self, model: type[BaseModel]) -> dict[str, Any]:
        schema: dict[str, Any] = self.schemas.get(self.ref(model)["$ref"].rsplit("/", 1)[-1], {})
        return schema

    def response_schema(self, route: RouteSpec) -> dict[str, Any] | None:
        if route.response is None:
            return None
        if isinstance(route.response, type) and issubclass(route.response, BaseModel):
            return self.ref(route.response)
        schema = TypeAdapter(route.response).json_schema(ref_template=_REF)
        self.schemas.update(schema.pop("$defs", {}))
        return schema


def _operation(route: RouteSpec, components: _Components) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary or route.name,
        "tags": [route.tag] if route.tag else [],
        "parameters": _parameters(route, components),
        "responses": _responses(route, components),
    }
    if not route.public:
        operation["security"] = [{"bearerAuth": []}]
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": components.ref(route.body)}},
        }
    return operation


def _parameters(route: RouteSpec, components: _Components) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1} if kind is int else {"type": "string"},
        }
        for name, kind in route.path_params.items()
    ]
    if route.query is not None:
        query_schema = components.schema_of(route.query)
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return parameters


def _problem(status: int, components: _Components) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT.get(status, "Error"),
        "content": {"application/problem+json": {"schema": components.ref(Problem)}},
    }


def _responses(route: RouteSpec, components: _Components) -> dict[str, Any]:
    success: dict[str, Any] = {"description": _STATUS_TEXT.get(route.status, "Success")}
    schema = components.response_schema(route)
    if schema is not None and route.status != 204:
        success["content"] = {"application/json": {"schema": schema}}
    if route.links:
        success["links"] = _links(route)
    responses: dict[str, Any] = {str(route.status): success}
    statuses = set(route.errors) | {500}
    if route.body is not None or route.query is not None:
        statuses |= {400, 422}
    if route.body is not None:
        statuses.add(413)
    if not route.public:
        statuses.add(401)
    if route.path_params:
        statuses.add(404)
    for status in sorted(statuses):
        responses[str(status)] = _problem(status, components)
    return responses
