"""The API's OpenAPI document, generated from the declared routes."""

from __future__ import annotations

from typing import Any

from shared.config import get_settings
from shared.http import Api, ApiRequest, default_registry
from shared.http.openapi import build_openapi

api = Api(tag="docs")
bp = api.blueprint


@api.route("GET", "api/openapi.json", name="openapi", public=True)
def openapi(_request: ApiRequest) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route."""
    return build_openapi(
        default_registry, title="NeulbomCare API", version=get_settings().app_version
    )
