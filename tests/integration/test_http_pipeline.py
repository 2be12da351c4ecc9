"""The HTTP conventions of the adapter, over real HTTP, on a small app declared here.

The routes below exist only in this test (their own registry), so every convention is proved
on bodies, queries and errors that the foundation's own routes do not have yet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import azure.functions as func
import pytest
import requests
from pydantic import Field

from devtools.functions_host import RunningServer, start_background_server
from models.common import ApiModel, Page, PageQuery, ResponseModel
from shared.errors import ConflictError, NotFoundError, RateLimitedError
from shared.http import Api, ApiRequest, ApiResponse, RouteRegistry
from shared.http.fallback import unmatched_route_handler
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

calls: list[str] = []


class ThingIn(ApiModel):
    name: str = Field(min_length=1, max_length=20)
    weight_kg: float = Field(gt=0, le=300)


class ThingOut(ResponseModel):
    thing_id: int
    name: str
    weight_kg: float


class ThingQuery(PageQuery):
    name: str | None = Field(None, max_length=10)


def build_app() -> func.FunctionApp:
    api = Api(tag="things", registry=RouteRegistry())

    @api.route(
        "POST",
        "api/things",
        name="create_thing",
        body=ThingIn,
        response=ThingOut,
        status=201,
        public=True,
    )
    def create_thing(request: ApiRequest) -> ThingOut:
        calls.append("create")
        return ThingOut(thing_id=7, **request.body.model_dump())

    @api.route(
        "GET",
        "api/things",
        name="list_things",
        query=ThingQuery,
        response=Page[ThingOut],
        public=True,
    )
    def list_things(request: ApiRequest) -> dict:
        # A dict with an extra field: the response model must drop it.
        item = {"thing_id": 1, "name": "a", "weight_kg": 1.0, "secret_note": "internal"}
        return {"items": [item], "total": request.query.limit}

    @api.route("GET", "api/things/{thing_id:int}", name="get_thing", public=True)
    def get_thing(request: ApiRequest) -> dict:
        if request.path_params["thing_id"] != 7:
            raise NotFoundError("No such thing.")
        return {"thing_id": 7, "client_ip": request.client_ip}

    @api.route("DELETE", "api/things/{thing_id:int}", name="delete_thing", public=True)
    def delete_thing(_request: ApiRequest) -> None:
        return None

    @api.route("GET", "api/boom", name="boom", public=True)
    def boom(_request: ApiRequest) -> dict:
        raise RuntimeError("internal detail that must not leak")

    @api.route("GET", "api/conflict", name="conflict", public=True)
    def conflict(_request: ApiRequest) -> dict:
        raise ConflictError("Already there.")

    @api.route("GET", "api/throttled", name="throttled", public=True)
    def throttled(_request: ApiRequest) -> dict:
        raise RateLimitedError("Slow down.", retry_after=42)

    @api.route("GET", "api/private", name="private")
    def private(_request: ApiRequest) -> dict:
        calls.append("private")
        return {"ok": True}

    @api.route("GET", "api/cached", name="cached", public=True)
    def cached(_request: ApiRequest) -> ApiResponse:
        return ApiResponse({"ok": True}, headers={"Cache-Control": "private, max-age=300"})

    api.fallback(name="unmatched", handler=unmatched_route_handler(api.registry))
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(api.blueprint)
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = start_background_server(build_app())
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def development_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "development")
    calls.clear()


def url(server: RunningServer, path: str) -> str:
    return f"{server.base_url}/{path}"


def test_valid_body_is_parsed_and_the_response_has_the_declared_status(server):
    response = requests.post(url(server, "api/things"), json={"name": "의자", "weight_kg": 3.5})
    assert response.status_code == 201
    assert response.json() == {"name": "의자", "weight_kg": 3.5, "thing_id": 7}
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert calls == ["create"]


def test_malformed_json_is_400_and_the_handler_never_runs(server):
    response = requests.post(
        url(server, "api/things"),
        data=b'{"name": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "bad_request")
    assert calls == []


@pytest.mark.parametrize("payload", [b"", b"   ", b"\xff\xfe{}"])
def test_missing_or_undecodable_body_is_400(server, payload):
    response = requests.post(url(server, "api/things"), data=payload)
    assert_problem(response, 400, "bad_request")
    assert calls == []


def test_validation_lists_every_bad_field_and_changes_nothing(server):
    response = requests.post(
        url(server, "api/things"), json={"name": "", "weight_kg": -1, "colour": "red"}
    )
    body = assert_problem(response, 422, "validation_error")
    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert locations == {("body", "name"), ("body", "weight_kg"), ("body", "colour")}
    assert all(error["msg"] for error in body["errors"])
    assert calls == []


def test_a_json_array_instead_of_an_object_is_422(server):
    response = requests.post(url(server, "api/things"), json=[1, 2])
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body"]


def test_query_parameters_are_validated(server):
    ok = requests.get(url(server, "api/things"), params={"limit": "3"})
    assert ok.status_code == 200
    assert ok.json()["total"] == 3
    bad = requests.get(url(server, "api/things"), params={"limit": "0", "offset": "x"})
    body = assert_problem(bad, 422, "validation_error")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("query", "limit"), ("query", "offset")}


def test_the_response_model_drops_fields_it_does_not_declare(server):
    body = requests.get(url(server, "api/things")).json()
    assert "secret_note" not in body["items"][0]
    assert body["items"][0]["thing_id"] == 1


def test_body_over_one_mebibyte_is_413(server):
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = requests.post(url(server, "api/things"), data=big)
    assert_problem(response, 413, "payload_too_large")
    assert calls == []


def test_path_ids_are_typed_and_out_of_range_ids_are_404(server):
    assert requests.get(url(server, "api/things/7")).status_code == 200
    assert_problem(requests.get(url(server, "api/things/8")), 404, "not_found")
    assert_problem(requests.get(url(server, "api/things/99999999999999999999")), 404, "not_found")


def test_none_from_a_handler_is_204_without_a_body(server):
    response = requests.delete(url(server, "api/things/7"))
    assert response.status_code == 204
    assert response.content == b""


def test_unhandled_errors_are_500_problems_without_internals(server, caplog):
    caplog.set_level(logging.INFO, logger="neulbomcare")
    response = requests.get(url(server, "api/boom"))
    body = assert_problem(response, 500, "internal")
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] in body["detail"]
    # The traceback goes to the log, with the request id, and the access line is a warning.
    events = [(r.levelno, r.msg) for r in caplog.records if isinstance(r.msg, dict)]
    unhandled = next(msg for level, msg in events if msg.get("event") == "unhandled_error")
    assert unhandled["request_id"] == body["request_id"]
    assert "internal detail that must not leak" in unhandled["exception"]
    access = [(level, msg) for level, msg in events if msg.get("event") == "http_request"]
    assert access[-1][0] == logging.WARNING
    assert access[-1][1]["status"] == 500


def test_domain_errors_map_to_their_codes_and_headers(server):
    assert_problem(requests.get(url(server, "api/conflict")), 409, "conflict")
    throttled = requests.get(url(server, "api/throttled"))
    assert_problem(throttled, 429, "rate_limited")
    assert throttled.headers["Retry-After"] == "42"


def test_non_public_routes_refuse_anonymous_callers(server):
    response = requests.get(url(server, "api/private"))
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert calls == []


def test_the_request_id_is_the_servers_and_the_callers_is_kept_apart(server):
    given = requests.get(url(server, "api/things/7"), headers={"X-Request-ID": "abc-123.x"})
    assert re.fullmatch(r"[0-9a-f]{32}", given.headers["X-Request-ID"])
    assert given.headers["X-Client-Request-ID"] == "abc-123.x"
    insane = requests.get(url(server, "api/things/7"), headers={"X-Request-ID": "no spaces!"})
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["X-Request-ID"])
    assert "X-Client-Request-ID" not in insane.headers
    again = requests.get(url(server, "api/things/7"), headers={"X-Request-ID": "abc-123.x"})
    assert again.headers["X-Request-ID"] != given.headers["X-Request-ID"]


def test_the_client_address_is_the_one_the_front_end_appended(server):
    # The caller writes whatever it likes on the left; the host (as the Azure front end does)
    # appends the address it saw, and only that one is taken.
    forged = requests.get(
        url(server, "api/things/7"), headers={"X-Forwarded-For": "203.0.113.9:51234, 10.0.0.1"}
    )
    assert forged.json()["client_ip"] == "127.0.0.1"
    plain = requests.get(url(server, "api/things/7"))
    assert plain.json()["client_ip"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        ("198.51.100.1, 203.0.113.9", 1, "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9:443", 1, "203.0.113.9"),
        ("[2001:db8::1]:443", 1, "2001:db8::1"),
        ("198.51.100.1, 203.0.113.9, 10.0.0.1", 2, "203.0.113.9"),
        ("10.0.0.1", 2, None),
        ("", 1, None),
        ("not-an-address", 1, None),
    ],
)
def test_trusted_hops_count_from_the_right(forwarded, hops, expected):
    from shared.http.pipeline import _client_ip

    assert _client_ip({"x-forwarded-for": forwarded}, hops) == expected


def test_api_responses_are_not_cached_unless_the_handler_says_so(server):
    assert requests.get(url(server, "api/things/7")).headers["Cache-Control"] == "no-store"
    cached = requests.get(url(server, "api/cached"))
    assert cached.headers["Cache-Control"] == "private, max-age=300"


def test_cors_headers_only_for_allowed_origins(server):
    allowed = requests.get(url(server, "api/things/7"), headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    foreign = requests.get(url(server, "api/things/7"), headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert foreign.headers["Vary"] == "Origin"


def test_unknown_paths_are_404_and_wrong_methods_405_as_problems(server):
    missing = assert_problem(requests.get(url(server, "api/nothing/here")), 404, "not_found")
    assert "no route" in missing["detail"]
    wrong = requests.put(url(server, "api/things/7"))
    assert_problem(wrong, 405, "method_not_allowed")
    assert wrong.headers["Allow"] == "DELETE, GET"


def test_cors_preflight_allowed_for_a_listed_origin(server):
    response = requests.options(
        url(server, "api/things"),
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS, POST"
    assert "authorization" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://evil.example", "POST", "content-type"),
        ("http://localhost:3000", "PATCH", "content-type"),
        ("http://localhost:3000", "POST", "x-custom-header"),
    ],
)
def test_cors_preflight_refused(server, origin, method, headers):
    response = requests.options(
        url(server, "api/things"),
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )
    assert_problem(response, 403, "forbidden")
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize("app_env", ["staging", "production"])
def test_deployed_profiles_check_the_host_header(server, monkeypatch, app_env):
    monkeypatch.setenv("APP_ENV", app_env)
    monkeypatch.setenv("JWT_SECRET", "p" * 40)
    monkeypatch.setenv("ALLOWED_HOSTS", "api.neulbomcare.example")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://app.neulbomcare.example")
    from shared.config import reset_settings

    reset_settings()
    refused = requests.get(url(server, "api/things/7"), headers={"Host": "evil.example"})
    assert_problem(refused, 400, "bad_request")
    allowed = requests.get(url(server, "api/things/7"), headers={"Host": "api.neulbomcare.example"})
    assert allowed.status_code == 200


def test_nul_characters_are_refused_where_they_are(app_server):
    """PostgreSQL text cannot hold NUL: a 422 naming the field, never a 500 from the driver."""
    response = app_server.request(
        "POST",
        "api/auth/login",
        json={"email": "a\u0000@example.com", "password": "x\u0000y", "extra": {"k\u0000": 1}},
    )
    assert response.status_code == 422, response.text
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "email"),
        ("body", "password"),
        ("body", "extra", "k\u0000"),
    }
