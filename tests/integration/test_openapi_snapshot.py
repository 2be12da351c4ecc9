"""The OpenAPI document the app serves is the one checked in as docs/openapi.json.

A change to a route, a model or a status the frontend relies on changes the served document; this
test makes such a change visible in review: it fails until the snapshot is regenerated (`make
openapi`) and committed with the change, beside docs/api.md and docs/api-routes.txt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = (
    "The served OpenAPI document differs from docs/openapi.json. If the change is intended, run "
    "`make openapi` (or `python manage.py openapi --output docs/openapi.json` with no "
    "local.settings.json and APP_VERSION unset), update docs/api.md and docs/api-routes.txt, "
    "and commit them together."
)


def _operations(document: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{method.upper()} {path}": operation
        for path, methods in document.get("paths", {}).items()
        for method, operation in methods.items()
    }


def describe_difference(served: dict[str, Any], snapshot: dict[str, Any]) -> list[str]:
    """What differs, by operation and component schema (not a whole-document dump)."""
    lines: list[str] = []
    for kind, now, then in (
        ("operation", _operations(served), _operations(snapshot)),
        ("schema", served["components"]["schemas"], snapshot["components"]["schemas"]),
    ):
        lines += [f"  {kind} added: {name}" for name in sorted(now.keys() - then.keys())]
        lines += [f"  {kind} removed: {name}" for name in sorted(then.keys() - now.keys())]
        changed = sorted(n for n in now.keys() & then.keys() if now[n] != then[n])
        lines += [f"  {kind} changed: {name}" for name in changed]
    now, then = _outside_paths_and_schemas(served), _outside_paths_and_schemas(snapshot)
    keys = sorted(now.keys() | then.keys())
    lines += [f"  changed: {key}" for key in keys if now.get(key) != then.get(key)]
    return lines


def _outside_paths_and_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Everything else: `info`, `openapi`, security schemes."""
    rest = {key: value for key, value in document.items() if key != "paths"}
    components = document.get("components", {})
    rest["components"] = {key: value for key, value in components.items() if key != "schemas"}
    return rest


def test_the_served_openapi_document_is_the_checked_in_snapshot(app_server):
    served = app_server.get("api/openapi.json").json()
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if served != snapshot:
        pytest.fail("\n".join([REGENERATE, *describe_difference(served, snapshot)]))


def test_the_difference_is_told_by_operation_and_schema():
    """The failure message names what changed (a control for the test above)."""
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    served = json.loads(json.dumps(snapshot))
    served["paths"]["/api/new"] = {"get": {"operationId": "new"}}
    del served["paths"]["/health"]
    served["paths"]["/api/auth/me"]["get"]["summary"] = "changed"
    served["components"]["schemas"]["Problem"]["title"] = "changed"
    served["info"]["version"] = "9.9.9"
    assert describe_difference(served, snapshot) == [
        "  operation added: GET /api/new",
        "  operation removed: GET /health",
        "  operation changed: GET /api/auth/me",
        "  schema changed: Problem",
        "  changed: info",
    ]
    assert describe_difference(snapshot, snapshot) == []
