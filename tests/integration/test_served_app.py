"""The real Function App, served over HTTP by `manage.py serve`, with real dependencies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from tests.problems import assert_problem

pytestmark = pytest.mark.integration

#: Every route the app serves (docs/api.md describes each; routes beyond the frontend's v1
#: contract are marked there with their reason).
ROUTES_FILE = Path(__file__).resolve().parents[2] / "docs" / "api-routes.txt"
CLOSED_PORT_DATABASE = "postgresql://postgres@127.0.0.1:1/neulbomcare"


def contract_routes() -> list[tuple[str, str]]:
    """(METHOD, /path) of every route listed in docs/api-routes.txt."""
    lines = ROUTES_FILE.read_text(encoding="utf-8").splitlines()
    fields = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    malformed = [f for f in fields if len(f) != 2]
    assert not malformed, f"not METHOD PATH in docs/api-routes.txt: {malformed}"
    return [(method, path) for method, path in fields]


def test_health_is_cheap_and_shaped_as_the_contract(app_server):
    response = app_server.get("health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == "0.1.0"
    assert body["timestamp"].endswith("Z") or "+00:00" in body["timestamp"]
    assert response.headers["X-Request-ID"]


DETAIL_FIELDS = {"timestamp", "version", "checks"}


def test_ready_reports_every_dependency_to_an_admin(app_server, parties):
    response = app_server.get("health/ready", headers=parties.admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == {
        "database",
        "blob_storage",
        "key_vault",
        "matching_model",
        "openai",
        "backups",  # beyond the frontend's v1 list (docs/api.md): the newest backups' age
    }
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["blob_storage"]["status"] == "ok"
    assert body["checks"]["key_vault"]["status"] == "disabled"
    assert body["checks"]["openai"]["status"] == "disabled"
    # No model is loaded and AI is off: serving, but degraded.
    assert body["status"] == "degraded"
    assert all(check["latency_ms"] >= 0 for check in body["checks"].values())


@pytest.mark.parametrize("who", ["anonymous", "owner", "assigned_caregiver"])
def test_ready_tells_anyone_but_an_admin_the_status_only(app_server, parties, who):
    # The checks name hosts and ports, backup ages and the model version: not for everyone.
    response = app_server.get("health/ready", headers=parties.headers(who))
    assert response.status_code == 200
    assert response.json() == {"status": "degraded"}


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer "]
)
def test_ready_with_a_bad_token_is_the_status_only(app_server, authorization):
    response = app_server.get("health/ready", headers={"Authorization": authorization})
    assert response.status_code == 200
    assert response.json() == {"status": "degraded"}


def test_ready_is_503_when_the_database_is_unreachable(start_app_server, parties):
    app = start_app_server(DATABASE_URL=CLOSED_PORT_DATABASE)
    every_caller: tuple[dict[str, str], ...] = ({}, parties.admin.headers)
    for headers in every_caller:  # no database: no token can be checked either
        response = app.get("health/ready", headers=headers)
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert response.json() == {"status": "unhealthy"}
    assert "127.0.0.1" not in response.text
    # Liveness does not depend on the database.
    assert app.get("health").status_code == 200


def test_ready_reads_secrets_from_key_vault(
    start_app_server, fake_key_vault, key_vault_env, database_url, parties
):
    fake_key_vault.set_secret("DatabaseURL", database_url)
    # The app setting points nowhere: only the vault's value can make the database check pass.
    app = start_app_server(DATABASE_URL=CLOSED_PORT_DATABASE, **key_vault_env)
    body = app.get("health/ready", headers=parties.admin.headers).json()
    assert body["checks"]["key_vault"]["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert fake_key_vault.request_count("DatabaseURL") >= 1
    assert not DETAIL_FIELDS & set(app.get("health/ready").json())


def test_unknown_routes_and_methods_are_problems(app_server):
    body = assert_problem(app_server.get("api/no/such/thing"), 404, "not_found")
    assert "no route" in body["detail"]
    assert_problem(app_server.get("nothing-here"), 404, "not_found")
    wrong = app_server.request("POST", "health")
    assert_problem(wrong, 405, "method_not_allowed")
    assert wrong.headers["Allow"] == "GET"


def test_cors_preflight_on_the_real_app(app_server):
    allowed = app_server.request(
        "OPTIONS",
        "health/ready",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    refused = app_server.request(
        "OPTIONS",
        "health/ready",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert_problem(refused, 403, "forbidden")


def test_openapi_document_is_valid_and_lists_every_declared_route(app_server):
    document = app_server.get("api/openapi.json").json()
    validate(document)  # openapi-spec-validator: raises on an invalid 3.1 document
    assert document["openapi"] == "3.1.0"
    import function_app  # noqa: F401  (declares the routes in this process too)
    from shared.http import default_registry

    declared = {(r.method.lower(), r.openapi_path) for r in default_registry.routes()}
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert declared == documented
    assert "Problem" in document["components"]["schemas"]


def test_declared_routes_are_exactly_the_listed_ones():
    """A route added, renamed or removed without docs/api-routes.txt (and so without review of
    docs/api.md) fails here."""
    import function_app  # noqa: F401
    from shared.http import default_registry

    listed = contract_routes()
    assert len(listed) == len(set(listed)), "docs/api-routes.txt lists a route twice"
    declared = {(r.method, r.openapi_path) for r in default_registry.routes()}
    unlisted, unserved = declared - set(listed), set(listed) - declared
    assert not unlisted, f"served but not in docs/api-routes.txt: {sorted(unlisted)}"
    assert not unserved, f"in docs/api-routes.txt but not served: {sorted(unserved)}"
    assert {("GET", "/health"), ("GET", "/health/ready"), ("GET", "/api/openapi.json")} <= declared


def test_every_contract_route_answers_bad_input_with_a_problem(app_server):
    """Malformed JSON to each listed route: a problem+json answer, never a 5xx (a GET that
    reads no body, such as the docs page, may answer 200).

    Path parameters are filled with their names, which no `{x:long}` route accepts, so those
    answer 404 from the catch-all (a problem document too); the others answer 400 (public) or
    401 (authentication comes first).
    """
    for method, path in contract_routes():
        concrete = path.replace("{", "").replace("}", "")
        response = app_server.request(
            method,
            concrete,
            data=b'{"broken": ',
            headers={"Content-Type": "application/json"},
        )
        assert response.headers["Content-Type"].startswith("application/problem+json") or (
            method == "GET" and response.status_code == 200
        ), f"{method} {path}: {response.status_code} {response.text[:200]}"
        assert response.status_code < 500, f"{method} {path}"


def test_the_callers_request_id_is_echoed_apart_and_logged_beside_ours(app_server):
    response = app_server.get("health", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Client-Request-ID"] == "trace-42"
    ours = response.headers["X-Request-ID"]
    assert ours != "trace-42"
    line = next(
        json.loads(raw)
        for raw in app_server.logs().splitlines()
        if raw.startswith("{") and '"trace-42"' in raw
    )
    assert line["request_id"] == ours
    assert line["client_request_id"] == "trace-42"
    assert line["event"] == "http_request"
    assert line["function"] == "health"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
