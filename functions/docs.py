"""The API's documentation: the OpenAPI document, and Swagger UI to read and try it.

Swagger UI's files come from a pinned PyPI package shipped with the app
(`swagger-ui-bundle-v2`, import name `swagger_ui_bundle`), so the page needs no CDN: `GET
/api/docs` is the page and `GET /api/docs/{file}` serves a short allow-list of its assets. Nothing
is read or imported at import time; each file is read once per process, on first use.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.config import get_settings
from shared.errors import NotFoundError
from shared.http import Api, ApiRequest, ApiResponse, default_registry
from shared.http.openapi import build_openapi

api = Api(tag="docs")
bp = api.blueprint

DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"
#: File name -> content type: every asset `GET /api/docs/{file}` serves, nothing else.
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "swagger-initializer.js": "text/javascript",  # ours (below), not the package's petstore one
}
#: The page runs only the scripts served here; Swagger UI styles elements inline and draws
#: icons from data: URLs; "Try it out" calls this same origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
#: Assets change only with the pinned package; the page asks for them with `?v=<version>`.
ASSET_CACHE_CONTROL = "public, max-age=86400"

_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>늘봄케어 (NeulbomCare) API</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{docs}/swagger-ui.css?v={version}">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{docs}/swagger-ui-bundle.js?v={version}"></script>
    <script src="{docs}/swagger-initializer.js?v={version}"></script>
  </body>
</html>
"""

_INITIALIZER = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "__OPENAPI__",
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    persistAuthorization: false,
    tryItOutEnabled: false
  });
});
""".replace("__OPENAPI__", OPENAPI_PATH)


class _Text(BaseModel):
    """A text file sent as it is. The pipeline writes a model body with `model_dump_json()`
    (and the response's content type); here that is the text itself, not a JSON document."""

    text: str

    def model_dump_json(self, **_kwargs: Any) -> str:
        return self.text


@api.route("GET", "api/openapi.json", name="openapi", public=True)
def openapi(_request: ApiRequest) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route."""
    return build_openapi(
        default_registry, title="NeulbomCare API", version=get_settings().app_version
    )


@api.route("GET", "api/docs", name="docs_page", public=True)
def docs_page(_request: ApiRequest) -> ApiResponse:
    """Swagger UI (HTML) for the OpenAPI document, from files this app serves itself."""
    page = _PAGE.format(docs=DOCS_PATH, version=swagger_ui_version())
    return ApiResponse(
        body=_Text(text=page),
        content_type="text/html",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


@api.route("GET", "api/docs/{file}", name="docs_asset", public=True, errors=(404,))
def docs_asset(request: ApiRequest) -> ApiResponse:
    """One of Swagger UI's files (only the page's own; anything else is 404)."""
    name = request.path_params["file"]
    if name not in ASSETS:
        raise NotFoundError(f"The API docs have no file {name!r}.")
    return ApiResponse(
        body=_Text(text=asset_text(name)),
        content_type=ASSETS[name],
        headers={"Cache-Control": ASSET_CACHE_CONTROL},
    )


def swagger_ui_dir() -> Path:
    """Where the pinned package keeps Swagger UI's dist files."""
    import swagger_ui_bundle  # type: ignore[import-untyped]

    return Path(str(swagger_ui_bundle.swagger_ui_path))


def swagger_ui_version() -> str:
    """Swagger UI's version, from the package's folder name (`swagger-ui-5.31.0`)."""
    return swagger_ui_dir().name.removeprefix("swagger-ui-")


@lru_cache(maxsize=len(ASSETS))
def asset_text(name: str) -> str:
    """An allow-listed asset's text, read once per process."""
    if name == "swagger-initializer.js":
        return _INITIALIZER
    return (swagger_ui_dir() / name).read_text(encoding="utf-8")
