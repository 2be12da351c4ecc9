"""The dev Functions host, driven over real HTTP the way a client (or Core Tools' admin API user)
would drive it, against small FunctionApps built here."""

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import azure.functions as func
import pytest
import requests

from devtools.functions_host import FunctionsHost, RunningServer, start_background_server

pytestmark = pytest.mark.integration


@dataclass
class Recorder:
    """What the functions of the test app saw, so tests can tell they ran."""

    timer_runs: list[bool | None] = field(default_factory=list)  # None: failing_timer ran
    barrier: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=5))


def text(body: str, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(body, status_code=status)


def build_app(recorder: Recorder) -> func.FunctionApp:
    """A FunctionApp shaped like the project's: blueprints registered on one app."""
    items = func.Blueprint()

    @items.route(route="items/special", methods=["GET"])
    def item_special(req: func.HttpRequest) -> func.HttpResponse:
        return text("literal")

    @items.route(route="items/{item_id:int}", methods=["GET"])
    def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
        return text(f"int:{req.route_params['item_id']}")

    @items.route(route="items/{name}", methods=["GET"])
    def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
        return text(f"name:{req.route_params['name']}")

    @items.route(route="items/{*rest}", methods=["GET"])
    def item_rest(req: func.HttpRequest) -> func.HttpResponse:
        return text(f"rest:{req.route_params.get('rest')}")

    @items.route(route="pages/{page?}")  # no methods: every method
    def pages(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")

    @items.route(route="things", methods=["GET"])
    def things_list(req: func.HttpRequest) -> func.HttpResponse:
        return text("list")

    @items.route(route="things", methods=[func.HttpMethod.POST])
    def things_create(req: func.HttpRequest) -> func.HttpResponse:
        return text("created", status=201)

    @items.route(route="things/{thing_id}", methods=["DELETE"])
    def things_delete(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(status_code=204)

    @items.route(route="things/{*rest}")
    def things_fallback(req: func.HttpRequest) -> func.HttpResponse:
        return text(f"fallback {req.method} {req.route_params.get('rest', '(none)')}")

    misc = func.Blueprint()

    @misc.route(route="echo/{who}", methods=["POST", "PUT"], trigger_arg_name="request")
    def echo(request: func.HttpRequest) -> func.HttpResponse:
        seen = {
            "method": request.method,
            "url": request.url,
            "params": dict(request.params),
            "route_params": dict(request.route_params),
            "body": request.get_body().decode(),
            "json": request.get_json()
            if request.headers.get("content-type") == "application/json"
            else None,
            "headers": {
                name: request.headers.get(name)
                for name in ("x-custom", "x-forwarded-for", "content-type", "content-length")
            },
        }
        response = func.HttpResponse(
            json.dumps(seen),
            status_code=201,
            headers={"X-Reply": "yes", "Location": "/echo/1"},
            mimetype="application/json",
        )
        response.headers.add("Set-Cookie", "a=1")
        response.headers.add("Set-Cookie", "b=2")
        return response

    @misc.route(route="boom")
    def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("kaboom for the test")

    @misc.route(route="wrong-type")
    def wrong_type(req: func.HttpRequest) -> func.HttpResponse:
        return {"not": "a response"}  # type: ignore[return-value]

    @misc.route(route="plain")
    def plain(req: func.HttpRequest) -> str:
        return "just text"

    @misc.route(route="html")
    def html(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("<p>hi</p>", mimetype="text/html", charset="euc-kr")

    @misc.route(route="binary")
    def binary(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(b"\x00\xff", mimetype="application/octet-stream")

    @misc.route(route="teapot")
    def teapot(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("short and stout", status_code=418, headers={"X-Kind": "tea"})

    @misc.function_name("named_by_decorator")
    @misc.route()
    def unnamed_route(req: func.HttpRequest) -> func.HttpResponse:
        return text("routed by function name")

    @misc.route(route="loop-id")
    async def loop_id(req: func.HttpRequest) -> func.HttpResponse:
        await asyncio.sleep(0)
        return text(str(id(asyncio.get_running_loop())))

    @misc.route(route="out-binding", binding_arg_name="res")
    def out_binding(req: func.HttpRequest, res: func.Out[func.HttpResponse]) -> None:
        res.set(text("set through func.Out", status=202))

    @misc.route(route="rendezvous")
    def rendezvous(req: func.HttpRequest) -> func.HttpResponse:
        # Passes only if two requests are being served at the same time.
        return text(str(recorder.barrier.wait()))

    timers = func.Blueprint()

    @timers.timer_trigger(arg_name="timer", schedule="%NIGHTLY_SCHEDULE%")
    def nightly_backup(timer: func.TimerRequest) -> None:
        recorder.timer_runs.append(timer.past_due)

    @timers.timer_trigger(arg_name="tick", schedule="0 */15 * * * *")
    async def quarter_hourly(tick: func.TimerRequest) -> None:
        await asyncio.sleep(0)
        recorder.timer_runs.append(tick.past_due)

    @timers.timer_trigger(arg_name="timer", schedule="0 0 */2 * * mon-fri")
    def failing_timer(timer: func.TimerRequest) -> None:
        recorder.timer_runs.append(None)
        raise RuntimeError("timer broke")

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in (items, misc, timers):
        app.register_functions(blueprint)
    return app


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def server(recorder: Recorder) -> Iterator[RunningServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NIGHTLY_SCHEDULE", "0 0 3 * * *")
        running = start_background_server(build_app(recorder))
    yield running
    running.stop()


@pytest.fixture
def url(server: RunningServer) -> str:
    return server.base_url


# --- routing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/items/special", "literal"),
        ("/ITEMS/Special", "literal"),
        ("/items/42", "int:42"),
        ("/items/abc", "name:abc"),  # {item_id:int} refuses, {name} is next
        ("/items/99999999999", "name:99999999999"),  # too big for int
        ("/items/%ED%99%8D%20gil", "name:홍 gil"),
        ("/items/a/b/c", "rest:a/b/c"),
    ],
)
def test_route_precedence_over_http(url: str, path: str, expected: str) -> None:
    response = requests.get(url + path, timeout=5)
    assert response.status_code == 200
    assert response.text == expected


def test_optional_parameter_present_and_absent(url: str) -> None:
    assert requests.get(f"{url}/pages", timeout=5).json() == {}
    assert requests.get(f"{url}/pages/3", timeout=5).json() == {"page": "3"}
    assert requests.get(f"{url}/pages/3/4", timeout=5).status_code == 404


def test_unmatched_path_is_an_empty_404(url: str) -> None:
    response = requests.get(f"{url}/no/such/route", timeout=5)
    assert response.status_code == 404
    assert response.content == b""


def test_methods_filter_and_fall_through_to_the_next_candidate(url: str) -> None:
    assert requests.get(f"{url}/things", timeout=5).text == "list"
    created = requests.post(f"{url}/things", timeout=5)
    assert (created.status_code, created.text) == (201, "created")
    # Every items/ route is GET-only, so PUT finds none of them.
    assert requests.put(f"{url}/items/special", timeout=5).status_code == 404
    # A catch-all also matches zero segments, and then carries no value.
    assert requests.put(f"{url}/things", timeout=5).text == "fallback PUT (none)"
    # DELETE-only things/{thing_id} does not take GET; the catch-all after it does.
    assert requests.get(f"{url}/things/5", timeout=5).text == "fallback GET 5"
    deleted = requests.delete(f"{url}/things/5", timeout=5)
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_function_without_route_is_served_under_its_function_name(url: str) -> None:
    response = requests.get(f"{url}/named_by_decorator", timeout=5)
    assert response.text == "routed by function name"


# --- request and response ------------------------------------------------------------------------


def test_request_parts_reach_the_function(url: str) -> None:
    response = requests.post(
        f"{url}/echo/%ED%99%8D%EA%B8%B8%EB%8F%99?a=1&a=2&b=x+y&c=%EB%8A%98&flag",
        json={"hello": "늘봄"},
        headers={"X-Custom": "custom value", "X-Forwarded-For": "203.0.113.7, 10.0.0.1"},
        timeout=5,
    )
    assert response.status_code == 201
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["route_params"] == {"who": "홍길동"}
    assert seen["params"] == {"a": "1,2", "b": "x y", "c": "늘", "flag": ""}
    assert seen["json"] == {"hello": "늘봄"}
    assert seen["url"] == (f"{url}/echo/%ED%99%8D%EA%B8%B8%EB%8F%99?a=1&a=2&b=x+y&c=%EB%8A%98&flag")
    assert seen["headers"] == {
        "x-custom": "custom value",
        # The host appends the peer's address, as the Functions front end does in Azure.
        "x-forwarded-for": "203.0.113.7, 10.0.0.1, 127.0.0.1",
        "content-type": "application/json",
        "content-length": str(len(seen["body"].encode())),
    }


def test_raw_body_bytes_arrive_intact(url: str) -> None:
    body = "가나다 abc".encode()
    response = requests.put(
        f"{url}/echo/x", data=body, headers={"Content-Type": "text/plain"}, timeout=5
    )
    seen = response.json()
    assert seen["body"] == "가나다 abc"
    assert seen["method"] == "PUT"


def test_response_status_headers_and_repeated_headers(url: str) -> None:
    response = requests.post(f"{url}/echo/x", timeout=5)
    assert response.status_code == 201
    assert response.headers["X-Reply"] == "yes"
    assert response.headers["Location"] == "/echo/1"
    assert response.headers["Content-Type"] == "application/json"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]

    teapot = requests.get(f"{url}/teapot", timeout=5)
    assert teapot.status_code == 418
    assert teapot.headers["X-Kind"] == "tea"
    assert teapot.text == "short and stout"


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/plain", "text/plain; charset=utf-8", b"just text"),
        ("/html", "text/html; charset=euc-kr", b"<p>hi</p>"),
        ("/binary", "application/octet-stream", b"\x00\xff"),
    ],
)
def test_content_type_comes_from_mimetype_and_charset(
    url: str, path: str, content_type: str, body: bytes
) -> None:
    response = requests.get(url + path, timeout=5)
    assert response.headers["Content-Type"] == content_type
    assert response.content == body
    assert response.headers["Content-Length"] == str(len(body))


def test_head_sends_headers_without_a_body(server: RunningServer) -> None:
    full = requests.get(f"{server.base_url}/pages/7", timeout=5)
    # Read the raw bytes: an HTTP client would silently ignore a body sent after HEAD.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(b"HEAD /pages/7 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        raw = b"".join(iter(lambda: conn.recv(65536), b""))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"Content-Length: {len(full.content)}".encode() in head.split(b"\r\n")
    assert body == b""
    # HEAD is a method like any other: a GET-only route does not take it.
    assert requests.head(f"{server.base_url}/items/special", timeout=5).status_code == 404


def test_output_binding_through_func_out(url: str) -> None:
    response = requests.get(f"{url}/out-binding", timeout=5)
    assert (response.status_code, response.text) == (202, "set through func.Out")


def test_async_functions_share_one_event_loop(url: str) -> None:
    first = requests.get(f"{url}/loop-id", timeout=5)
    second = requests.get(f"{url}/loop-id", timeout=5)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text


def test_requests_are_served_concurrently(url: str) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(requests.get, f"{url}/rendezvous", timeout=10) for _ in range(2)]
        responses = [future.result() for future in futures]
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(r.text for r in responses) == ["0", "1"]


@pytest.mark.parametrize(
    ("path", "message"),
    [("/boom", "kaboom for the test"), ("/wrong-type", "must return func.HttpResponse or str")],
)
def test_failing_function_is_an_empty_500_with_a_logged_traceback(
    url: str, caplog: pytest.LogCaptureFixture, path: str, message: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="devtools.functions_host"):
        response = requests.get(url + path, timeout=5)
    assert response.status_code == 500
    assert response.content == b""
    failures = [r for r in caplog.records if r.exc_info and message in str(r.exc_info[1])]
    assert failures, caplog.text
    assert "Traceback" in caplog.text


# --- admin API -----------------------------------------------------------------------------------


def wait_for_runs(recorder: Recorder, before: int, count: int = 1) -> list[bool | None]:
    """Admin invocations run in the background: wait for them to be recorded."""
    deadline = time.monotonic() + 5
    while len(recorder.timer_runs) < before + count and time.monotonic() < deadline:
        time.sleep(0.02)
    return recorder.timer_runs[before:]


def test_admin_invoke_runs_the_timer(url: str, recorder: Recorder) -> None:
    before = len(recorder.timer_runs)
    response = requests.post(f"{url}/admin/functions/nightly_backup", json={"input": ""}, timeout=5)
    assert response.status_code == 202
    assert response.content == b""
    assert wait_for_runs(recorder, before) == [False]


def test_admin_invoke_without_body_and_async_timer(url: str, recorder: Recorder) -> None:
    before = len(recorder.timer_runs)
    response = requests.post(f"{url}/admin/functions/quarter_hourly", timeout=5)
    assert response.status_code == 202
    assert wait_for_runs(recorder, before) == [False]


def test_admin_invoke_errors(
    url: str, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    assert requests.post(f"{url}/admin/functions/no_such", timeout=5).status_code == 404
    assert requests.post(f"{url}/admin/functions/echo", timeout=5).status_code == 400
    bad_json = requests.post(f"{url}/admin/functions/nightly_backup", data="{nope", timeout=5)
    assert bad_json.status_code == 400
    assert requests.get(f"{url}/admin/functions/nightly_backup", timeout=5).status_code == 405
    assert requests.get(f"{url}/admin/other", timeout=5).status_code == 404
    before = len(recorder.timer_runs)
    with caplog.at_level(logging.ERROR, logger="devtools.functions_host"):
        failed = requests.post(f"{url}/admin/functions/failing_timer", json={}, timeout=5)
        # The host answers before the function runs: its failure is only logged.
        assert failed.status_code == 202
        assert wait_for_runs(recorder, before) == [None]
        deadline = time.monotonic() + 5
        while "timer broke" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "timer broke" in caplog.text


def test_admin_lists_functions(url: str) -> None:
    response = requests.get(f"{url}/admin/functions", timeout=5)
    assert response.status_code == 200
    listed = {entry["name"]: entry for entry in response.json()}
    assert listed["item_by_id"] == {
        "name": "item_by_id",
        "trigger": "http",
        "route": "items/{item_id:int}",
        "methods": ["GET"],
    }
    assert listed["pages"]["methods"] is None
    assert listed["nightly_backup"] == {
        "name": "nightly_backup",
        "trigger": "timer",
        "schedule": "0 0 3 * * *",  # %NIGHTLY_SCHEDULE% resolved from the environment
    }
    assert listed["failing_timer"]["schedule"] == "0 0 */2 * * mon-fri"
    assert len(listed) == 23


def test_admin_prefix_is_checked_before_app_routes() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    bp = func.Blueprint()

    @bp.route(route="{*path}")
    def not_found(req: func.HttpRequest) -> func.HttpResponse:
        return text(f"app:{req.route_params.get('path', '')}", status=404)

    app.register_functions(bp)
    running = start_background_server(app)
    try:
        listed = requests.get(f"{running.base_url}/admin/functions", timeout=5)
        assert listed.json() == [
            {"name": "not_found", "trigger": "http", "route": "{*path}", "methods": None}
        ]
        other = requests.get(f"{running.base_url}/api/anything/here", timeout=5)
        assert (other.status_code, other.text) == (404, "app:api/anything/here")
    finally:
        running.stop()


# --- the host object -----------------------------------------------------------------------------


def test_get_functions_is_called_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = build_app(Recorder())
    calls = []
    original = app.get_functions

    def counting_get_functions() -> list[func.Function]:
        calls.append(1)
        return original()

    monkeypatch.setattr(app, "get_functions", counting_get_functions)
    host = FunctionsHost(app)
    host.handle_http("GET", "/items/1", "", {}, b"")
    host.run_timer("nightly_backup")
    assert calls == [1]
    host.close()


def test_run_timer_passes_past_due_and_names_timers_when_unknown() -> None:
    recorder = Recorder()
    host = FunctionsHost(build_app(recorder))
    host.run_timer("NIGHTLY_BACKUP", past_due=True)
    assert recorder.timer_runs == [True]
    with pytest.raises(KeyError, match="nightly_backup, quarter_hourly, failing_timer"):
        host.run_timer("nope")
    with pytest.raises(KeyError, match="quarter_hourly"):
        host.run_timer("item_by_id")  # an HTTP function is not a timer
    host.close()


def test_introspection_and_route_prefix() -> None:
    host = FunctionsHost(build_app(Recorder()), route_prefix="api")
    assert {fn.name for fn in host.timer_functions} == {
        "nightly_backup",
        "quarter_hourly",
        "failing_timer",
    }
    by_name = {fn.name: fn for fn in host.http_functions}
    assert by_name["echo"].arg_name == "request"
    assert by_name["echo"].methods == frozenset({"POST", "PUT"})
    assert by_name["item_by_id"].route.text == "api/items/{item_id:int}"
    response = host.handle_http("GET", "/api/items/5", "", {"Host": "example.test"}, b"")
    assert (response.status, response.body) == (200, b"int:5")
    assert host.handle_http("GET", "/items/5", "", {}, b"").status == 404
    host.close()


def test_bad_route_template_fails_host_construction() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="api/{id:nonsense}")
    def broken(req: func.HttpRequest) -> func.HttpResponse:
        return text("never")

    with pytest.raises(ValueError, match="unknown constraint 'nonsense'"):
        FunctionsHost(app)


def test_stop_releases_the_port() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="ping")
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return text("pong")

    running = start_background_server(app)
    with requests.Session() as session:  # a kept-alive connection must not block stop()
        assert session.get(f"{running.base_url}/ping", timeout=5).text == "pong"
        running.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(f"{running.base_url}/ping", timeout=2)
    assert not running._thread.is_alive()
