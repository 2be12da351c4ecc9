"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from models.common import Problem
from shared.http.routing import RouteRegistry, RouteSpec

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
    schemas = _component_schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "늘봄케어 (NeulbomCare) API. Errors are application/problem+json.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _models_of(route: RouteSpec) -> list[type[BaseModel]]:
    found = [m for m in (route.body, route.query) if m is not None]
    if isinstance(route.response, type) and issubclass(route.response, BaseModel):
        found.append(route.response)
    return found


def _component_schemas(routes: list[RouteSpec]) -> dict[str, Any]:
    models = {Problem, *(m for r in routes for m in _models_of(r))}
    inputs = [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)]
    _, document = models_json_schema(inputs, ref_template=_REF)
    return document.get("$defs", {})


def _schema_ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": _REF.format(model=model.__name__)}


def _response_schema(route: RouteSpec) -> dict[str, Any] | None:
    if route.response is None:
        return None
    if isinstance(route.response, type) and issubclass(route.response, BaseModel):
        return _schema_ref(route.response)
    return TypeAdapter(route.response).json_schema(ref_template=_REF)


def _operation(route: RouteSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary or route.name,
        "tags": [route.tag] if route.tag else [],
        "parameters": _parameters(route, schemas),
        "responses": _responses(route),
    }
    if not route.public:
        operation["security"] = [{"bearerAuth": []}]
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(route.body)}},
        }
    return operation


def _parameters(route: RouteSpec, schemas: dict[str, Any]) -> list[dict[str, Any]]:
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
        query_schema = schemas.get(route.query.__name__, {})
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return parameters


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT.get(status, "Error"),
        "content": {"application/problem+json": {"schema": _schema_ref(Problem)}},
    }


def _responses(route: RouteSpec) -> dict[str, Any]:
    success: dict[str, Any] = {"description": _STATUS_TEXT.get(route.status, "Success")}
    schema = _response_schema(route)
    if schema is not None and route.status != 204:
        success["content"] = {"application/json": {"schema": schema}}
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
        responses[str(status)] = _problem(status)
    return responses
