"""What a declared route is (`RouteSpec`) and the list of them (`RouteRegistry`).

The record is what the pipeline validates against, what the OpenAPI document is generated from,
and what the catch-all route consults to tell 404 from 405 and to answer CORS preflights. Route
templates use the Functions syntax: `api/patients/{patient_id:long}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, TypeAdapter

from shared.http.request import ApiRequest

Handler = Callable[[ApiRequest], Any]

_PARAM = re.compile(r"\{(?P<star>\*)?(?P<name>\w+)(?P<constraints>(?::[^}?]+)*)(?P<opt>\?)?\}")
_INT_CONSTRAINTS = {"int", "long"}

#: OpenAPI links of a route's success response: operationId of the linked route -> its
#: parameter name -> a runtime expression (`$response.body#/patient_id`). Schemathesis's
#: stateful testing follows them, so an id one call creates feeds the next.
Links = Mapping[str, Mapping[str, str]]


def feeds(field: str, *operations: str, parameter: str | None = None) -> dict[str, dict[str, str]]:
    """Links passing the response body's `field` (a JSON pointer below the body, such as
    `patient_id` or `results/0/matching_id`) as `parameter` (default: the field's last part)
    of each operation."""
    name = parameter or field.rsplit("/", 1)[-1]
    return {operation: {name: f"$response.body#/{field}"} for operation in operations}


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
    links: Links = field(default_factory=dict)

    @cached_property
    def path_params(self) -> dict[str, type]:
        """Parameter name -> Python type (int for `{x:int}` and `{x:long}`, else str)."""
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


def first_line(text: str | None) -> str:
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
