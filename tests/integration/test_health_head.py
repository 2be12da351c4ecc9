"""`HEAD /health` (the operations guide's daily `curl -I .../health`) answers like the liveness
GET, without a body."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_head_health_answers_200_without_a_body(app_server):
    answer = app_server.request("HEAD", "health")
    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["X-Request-ID"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert app_server.get("health").status_code == 200


def test_head_health_is_not_a_route_of_the_contract():
    """A courtesy of GET /health: the OpenAPI document and api-routes.txt stay as they are."""
    import function_app  # noqa: F401  (declares the routes in this process too)
    from shared.http import default_registry

    health = {(r.method, r.name) for r in default_registry.routes() if r.path == "health"}
    assert health == {("GET", "health")}
