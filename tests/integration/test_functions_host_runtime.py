"""The local host as the real one behaves at run time: host.json's routePrefix and functionTimeout,
the admin API running functions in the background, refusing to index a bad timer or queue trigger,
and queue messages it cannot decode. Small FunctionApps of the tests' own, served in-process."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest
import requests
from azure.storage.queue import QueueServiceClient

from devtools.functions_host import (
    FunctionsHost,
    HostConfig,
    HostStartError,
    QueueOptions,
    RunningServer,
    start_background_server,
)

pytestmark = pytest.mark.integration

LOGGER = "devtools.functions_host"


def slow_app(finished: threading.Event) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="fast")
    def fast(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("fast")

    @app.route(route="slow")
    def slow(req: func.HttpRequest) -> func.HttpResponse:
        time.sleep(1.5)
        finished.set()
        return func.HttpResponse("too late")

    @app.route(route="slow-async")
    async def slow_async(req: func.HttpRequest) -> func.HttpResponse:
        await asyncio.sleep(30)
        return func.HttpResponse("never")

    @app.timer_trigger(arg_name="timer", schedule="0 0 * * * *")
    def slow_timer(timer: func.TimerRequest) -> None:
        time.sleep(1)
        finished.set()

    return app


@pytest.fixture
def serve_app() -> Iterator[list[RunningServer]]:
    servers: list[RunningServer] = []
    yield servers
    for server in servers:
        server.stop()


def serve(servers: list[RunningServer], app: func.FunctionApp, **options: Any) -> RunningServer:
    """Serve `app` with host.json options of the test's own (no route prefix unless given)."""
    config = HostConfig(**{"route_prefix": "", **options})
    server = start_background_server(app, functions_host=FunctionsHost(app, config=config))
    servers.append(server)
    return server


def test_route_prefix_comes_from_host_json_and_its_override(
    monkeypatch: pytest.MonkeyPatch, serve_app: list[RunningServer]
) -> None:
    app = slow_app(threading.Event())
    monkeypatch.setenv("AzureFunctionsJobHost__extensions__http__routePrefix", "api")
    server = start_background_server(app)  # the project's host.json, overridden
    serve_app.append(server)
    assert requests.get(f"{server.base_url}/api/fast", timeout=5).text == "fast"
    assert requests.get(f"{server.base_url}/fast", timeout=5).status_code == 404
    # The admin API is the host's own and never prefixed.
    assert requests.get(f"{server.base_url}/admin/functions", timeout=5).status_code == 200


def test_a_function_over_function_timeout_is_abandoned_with_a_500(
    serve_app: list[RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    finished = threading.Event()
    server = serve(serve_app, slow_app(finished), function_timeout=0.3)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        started = time.monotonic()
        response = requests.get(f"{server.base_url}/slow", timeout=10)
        elapsed = time.monotonic() - started
    assert response.status_code == 500
    assert response.content == b""
    assert elapsed < 1.4  # answered at the timeout, not when the function ended
    assert not finished.is_set()
    assert "Timeout value of 00:00:00 exceeded by function 'Functions.slow'" in caplog.text
    assert requests.get(f"{server.base_url}/fast", timeout=5).text == "fast"
    # Python cannot stop the abandoned thread: it finishes on its own.
    assert finished.wait(5)


def test_an_async_function_over_function_timeout_is_cancelled(
    serve_app: list[RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(serve_app, slow_app(threading.Event()), function_timeout=0.3)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        response = requests.get(f"{server.base_url}/slow-async", timeout=10)
    assert response.status_code == 500
    assert "'Functions.slow_async'" in caplog.text


def test_admin_invoke_answers_202_before_the_function_runs(
    serve_app: list[RunningServer],
) -> None:
    finished = threading.Event()
    server = serve(serve_app, slow_app(finished))
    response = requests.post(f"{server.base_url}/admin/functions/slow_timer", json={}, timeout=5)
    assert response.status_code == 202
    assert not finished.is_set()  # answered while the timer still runs
    assert finished.wait(5)


def test_close_waits_for_admin_invoked_runs() -> None:
    finished = threading.Event()
    app = slow_app(finished)
    host = FunctionsHost(app, config=HostConfig())
    response = host.handle_http("POST", "/admin/functions/slow_timer", "", {}, b"{}")
    assert response.status == 202
    host.close(drain_seconds=5)
    assert finished.is_set()


def test_admin_invoke_gives_a_queue_function_its_input() -> None:
    seen: list[tuple[str, int | None]] = []
    done = threading.Event()
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
    def job(msg: func.QueueMessage) -> None:
        seen.append((msg.get_body().decode(), msg.dequeue_count))
        done.set()

    host = FunctionsHost(app, config=HostConfig())
    response = host.handle_http(
        "POST", "/admin/functions/job", "", {}, b'{"input": "{\\"job_id\\": 7}"}'
    )
    assert response.status == 202
    assert done.wait(5)
    assert seen == [('{"job_id": 7}', 1)]
    host.close()


def test_the_host_refuses_to_index_bad_timers_and_queue_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule="%UNSET_SCHEDULE%")
    def unresolved(timer: func.TimerRequest) -> None:
        pass

    @app.timer_trigger(arg_name="timer", schedule="0 0 25 * * *")
    def malformed(timer: func.TimerRequest) -> None:
        pass

    @app.timer_trigger(arg_name="timer", schedule="%GOOD_SCHEDULE%")
    def fine(timer: func.TimerRequest) -> None:
        pass

    @app.queue_trigger(arg_name="msg", queue_name="%UNSET_QUEUE%", connection="Storage")
    def queued(msg: func.QueueMessage) -> None:
        pass

    @app.queue_trigger(arg_name="msg", queue_name="Bad_Name", connection="Storage")
    def badly_named(msg: func.QueueMessage) -> None:
        pass

    @app.route(route="enqueue")
    @app.queue_output(arg_name="out", queue_name="outbox", connection="Storage")
    def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
        return func.HttpResponse("never called")

    monkeypatch.setenv("GOOD_SCHEDULE", "0 */5 * * * *")
    with pytest.raises(HostStartError) as error:
        start_background_server(app)
    message = str(error.value)
    assert "'unresolved'" in message
    assert "'%UNSET_SCHEDULE%' does not resolve" in message
    assert "'malformed'" in message
    assert "hour field '25'" in message
    assert "'queued'" in message
    assert "UNSET_QUEUE" in message
    assert "'badly_named'" in message
    assert "The function 'enqueue' declares a 'queue' binding ('out')" in message
    assert "'fine'" not in message


def test_undecodable_messages_go_to_the_poison_queue_without_running(
    azurite, monkeypatch: pytest.MonkeyPatch, serve_app: list[RunningServer]
) -> None:
    queue_name = f"decode-{uuid.uuid4().hex[:12]}"
    runs: list[str] = []
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="TestStorage")
    def consume(msg: func.QueueMessage) -> None:
        runs.append(msg.get_body().decode())

    monkeypatch.setenv("TestStorage", azurite.connection_string)
    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    queue = service.get_queue_client(queue_name)
    queue.create_queue()
    queue.send_message("not base64 at all!")
    queue.send_message(base64.b64encode("정상 메시지".encode()).decode())
    options = QueueOptions(batch_size=4, new_batch_threshold=2, max_polling_interval=0.2)
    serve(serve_app, app, queues=options)

    poison = service.get_queue_client(f"{queue_name}-poison")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (runs and _peek(poison)):
        time.sleep(0.1)
    assert runs == ["정상 메시지"]  # base64-decoded, as the host does by default
    assert _peek(poison) == ["not base64 at all!"]


def test_message_encoding_none_passes_the_text_as_it_is(
    azurite, monkeypatch: pytest.MonkeyPatch, serve_app: list[RunningServer]
) -> None:
    queue_name = f"plain-{uuid.uuid4().hex[:12]}"
    runs: list[str] = []
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="TestStorage")
    def consume(msg: func.QueueMessage) -> None:
        runs.append(msg.get_body().decode())

    monkeypatch.setenv("TestStorage", azurite.connection_string)
    queue = QueueServiceClient.from_connection_string(azurite.connection_string)
    client = queue.get_queue_client(queue_name)
    client.create_queue()
    client.send_message('{"plain": true}')
    options = QueueOptions(message_encoding="none", max_polling_interval=0.2)
    serve(serve_app, app, queues=options)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not runs:
        time.sleep(0.1)
    assert runs == ['{"plain": true}']


def test_a_queue_trigger_without_its_connection_is_in_error_but_http_serves(
    serve_app: list[RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="ping")
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("pong")

    @app.queue_trigger(arg_name="msg", queue_name="orphans", connection="NoSuchConnection")
    def orphan(msg: func.QueueMessage) -> None:
        pass

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        server = serve(serve_app, app)
    assert requests.get(f"{server.base_url}/ping", timeout=5).text == "pong"
    assert "The listener for function 'Functions.orphan' was unable to start" in caplog.text
    assert "NoSuchConnection" in caplog.text


def _peek(queue) -> list[str]:
    try:
        return [message.content for message in queue.peek_messages(max_messages=32)]
    except Exception:  # not created yet
        return []


def test_a_queue_function_over_function_timeout_counts_as_failed(
    azurite,
    monkeypatch: pytest.MonkeyPatch,
    serve_app: list[RunningServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue_name = f"slow-{uuid.uuid4().hex[:12]}"
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="TestStorage")
    def crawl(msg: func.QueueMessage) -> None:
        time.sleep(2)

    monkeypatch.setenv("TestStorage", azurite.connection_string)
    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    queue = service.get_queue_client(queue_name)
    queue.create_queue()
    queue.send_message(base64.b64encode(b"slow").decode())
    options = QueueOptions(max_dequeue_count=1, max_polling_interval=0.2)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        serve(serve_app, app, queues=options, function_timeout=0.3)
        poison = service.get_queue_client(f"{queue_name}-poison")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not _peek(poison):
            time.sleep(0.1)
    assert _peek(poison) == [base64.b64encode(b"slow").decode()]
    assert "exceeded by function 'Functions.crawl'" in caplog.text
