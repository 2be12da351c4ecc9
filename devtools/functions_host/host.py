"""Dispatch HTTP requests, admin calls and queue messages to one ``azure.functions.FunctionApp``.

Core Tools cannot be installed on this machine, so local runs and tests serve the very same
FunctionApp object the Azure host would index. This module does what the host and the Python worker
do between the socket and the user's function: pick the function by route precedence and method,
build the ``func.HttpRequest`` (with route params, which the request object never parses itself),
call the function, and turn its ``func.HttpResponse`` back into status, headers and bytes. It knows
nothing about sockets; server.py puts it behind waitress.

What it takes from the real host:

- host.json (``host_config``): ``extensions.http.routePrefix`` in front of every route,
  ``functionTimeout`` (a longer run is abandoned: the HTTP caller gets an empty 500, a queue
  message counts as failed, the error is logged; Python cannot stop the thread, so it finishes
  in the background), ``extensions.queues`` for queue triggers (see queues.py); app settings
  ``AzureFunctionsJobHost__...`` override host.json values.
- Indexing: a timer whose ``%Setting%`` does not resolve or whose NCRONTAB does not parse, and a
  queue trigger whose queue name does not resolve or is invalid, refuse the start
  (``check_start``), naming the function.
- ``POST /admin/functions/{name}`` answers 202 at once and runs the timer or queue function in
  the background (a queue function gets the body's ``input`` as its message); ``close()`` waits
  for those runs (up to a grace period) before the process ends.
- Queue triggers are polled from Storage (Azurite locally) by ``start_listeners()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import inspect
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func
from azure.functions.decorators.core import Trigger
from azure.functions.decorators.function_app import Function
from azure.functions.decorators.http import HttpOutput, HttpTrigger
from azure.functions.decorators.queue import QueueTrigger
from azure.functions.decorators.timer import TimerTrigger
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.functions.timer import TimerRequest

from devtools.functions_host.host_config import HostConfig, load_host_config
from devtools.functions_host.ncrontab import (
    ScheduleError,
    check_timer_schedule,
    resolve_settings,
    substitute_known_settings,
)
from devtools.functions_host.queues import QueueFunction, QueueListener, check_queue_name
from devtools.functions_host.routes import RouteTemplate, split_path

logger = logging.getLogger(__name__)

_ADMIN_LIST = RouteTemplate("admin/functions")
_ADMIN_INVOKE = RouteTemplate("admin/functions/{name}")
_RETURN = "$return"
#: How long close() waits for admin-invoked runs still going (the host's graceful shutdown).
DRAIN_SECONDS = 30.0
#: Local host only (the real host hides a received message for 10 minutes): the lease in
#: seconds, so tests see a killed instance's message come back quickly.
QUEUE_LEASE_SETTING = "FUNCTIONS_HOST_QUEUE_LEASE_SECONDS"


class HostStartError(RuntimeError):
    """The app cannot be indexed (as the real host would refuse it); the message says why."""


class FunctionTimeoutError(TimeoutError):
    """A function ran longer than host.json's functionTimeout and was abandoned."""


@dataclass(frozen=True)
class HostResponse:
    """What goes back on the wire: status, headers in order (repeats allowed), body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class HttpFunction:
    """An HTTP-triggered function as the host indexed it."""

    name: str
    route: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    arg_name: str
    output_name: str  # "$return", or the name of a func.Out parameter
    handler: Callable[..., Any]

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods

    def describe(self) -> dict[str, Any]:
        methods = sorted(self.methods) if self.methods is not None else None
        return {"name": self.name, "trigger": "http", "route": self.route.text, "methods": methods}


@dataclass(frozen=True)
class TimerFunction:
    """A timer-triggered function; it only runs when asked (admin API or run_timer)."""

    name: str
    schedule: str  # with %AppSetting% references resolved where the setting exists
    raw_schedule: str  # as declared
    arg_name: str
    handler: Callable[..., Any]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "trigger": "timer", "schedule": self.schedule}


class _Out(func.Out[Any]):
    """Stand-in for the worker's output binding object when the HTTP output is not $return."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _EventLoopThread:
    """One event loop on one daemon thread for every coroutine function.

    The Python worker runs all async functions on a single loop, so loop-bound objects (async
    clients, locks) cached at module level keep working across requests. asyncio.run per request
    would give each call a fresh loop and break them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, awaitable: Awaitable[Any], timeout: float | None = None) -> Any:
        async def wait() -> Any:
            return await awaitable

        future = asyncio.run_coroutine_threadsafe(wait(), self._ensure_loop())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()  # a coroutine, unlike a thread, can be stopped
            raise FunctionTimeoutError from None

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="functions-host-asyncio", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop


class FunctionsHost:
    """Serve one FunctionApp's HTTP functions, run its timers on demand and its queue triggers.

    ``app.get_functions()`` may be called only once per app object (a second call trips the
    duplicate-name check), so it is called here, once, and everything is indexed up front. A bad
    route template fails construction, as it fails the real host's start-up; ``check_start()``
    checks what needs app settings (timer schedules, queue names) before serving.

    ``config`` defaults to the project's host.json with ``AzureFunctionsJobHost__`` overrides
    from ``environ`` (default: the process environment, read when needed, as the host reads
    app settings); ``route_prefix`` overrides host.json's.
    """

    def __init__(
        self,
        app: func.FunctionApp,
        *,
        route_prefix: str | None = None,
        config: HostConfig | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._environ = environ
        self.config = config if config is not None else load_host_config(environ=environ)
        prefix = self.config.route_prefix if route_prefix is None else route_prefix
        self._async = _EventLoopThread()
        http: list[HttpFunction] = []
        timers: list[TimerFunction] = []
        queues: list[QueueFunction] = []
        self._unsupported: list[str] = []
        for function in app.get_functions():
            trigger = function.get_trigger()
            if trigger is None:
                continue
            self._unsupported.extend(_unsupported_bindings(function))
            if Trigger.is_supported_trigger_type(trigger, HttpTrigger):
                http.append(_index_http(function, trigger, prefix))
            elif Trigger.is_supported_trigger_type(trigger, TimerTrigger):
                timers.append(_index_timer(function, trigger, self.environ))
            elif Trigger.is_supported_trigger_type(trigger, QueueTrigger):
                queues.append(_index_queue(function, trigger, self.environ))
            else:
                logger.warning(
                    "Function %r (%s) is not served by the dev host; only HTTP, timer and "
                    "queue triggers are",
                    function.get_function_name(),
                    trigger.type,
                )
        self._http = tuple(http)
        self._timers = tuple(timers)
        self._queues = tuple(queues)
        # sorted() is stable: equal templates keep registration order.
        self._by_precedence = sorted(self._http, key=lambda fn: fn.route.sort_key)
        self._timers_by_name = {timer.name.lower(): timer for timer in timers}
        self._queues_by_name = {queue.name.lower(): queue for queue in queues}
        self._names = {fn.name.lower() for fn in self._http} | set(self._timers_by_name)
        self._names |= set(self._queues_by_name)
        self._listeners: list[QueueListener] = []
        self._background: set[threading.Thread] = set()
        self._background_lock = threading.Lock()

    @property
    def environ(self) -> Mapping[str, str]:
        """The app settings the host resolves bindings from."""
        return os.environ if self._environ is None else self._environ

    @property
    def http_functions(self) -> tuple[HttpFunction, ...]:
        return self._http

    @property
    def timer_functions(self) -> tuple[TimerFunction, ...]:
        return self._timers

    @property
    def queue_functions(self) -> tuple[QueueFunction, ...]:
        return self._queues

    def describe(self) -> list[dict[str, Any]]:
        """The function list that GET /admin/functions returns."""
        functions: tuple[HttpFunction | TimerFunction | QueueFunction, ...] = (
            *self._http,
            *self._timers,
            *self._queues,
        )
        return [fn.describe() for fn in functions]

    def check_start(self) -> None:
        """Refuse to start, as the real host refuses to index, on a timer schedule or queue
        name that does not resolve or parse, and on a binding this host does not provide; the
        message names every such function."""
        problems = list(self._unsupported)
        for timer in self._timers:
            try:
                check_timer_schedule(timer.name, timer.raw_schedule, self.environ)
            except ScheduleError as error:
                problems.append(str(error))
        for queue in self._queues:
            try:
                check_queue_name(queue.name, resolve_settings(queue.queue_name, self.environ))
            except (ScheduleError, ValueError) as error:
                problems.append(
                    str(error)
                    if "cannot be indexed" in str(error)
                    else f"The queue function '{queue.name}' cannot be indexed: {error}"
                )
        if problems:
            raise HostStartError("\n".join(problems))

    def start_listeners(self, *, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Start polling the queue of every queue-triggered function.

        A function whose storage connection is not configured is logged as in error and not
        polled (the real host starts the rest of the app), like a listener that cannot start.
        """
        from devtools.functions_host.storage_connection import (
            StorageConnectionError,
            queue_service_for,
        )

        lease = int(self.environ.get(QUEUE_LEASE_SETTING) or 0) or None
        for function in self._queues:
            try:
                service = queue_service_for(function.connection, self.environ)
            except StorageConnectionError as error:
                logger.error(
                    "The listener for function 'Functions.%s' was unable to start: %s",
                    function.name,
                    error,
                )
                continue
            resolved = QueueFunction(
                name=function.name,
                queue_name=resolve_settings(function.queue_name, self.environ),
                connection=function.connection,
                arg_name=function.arg_name,
                handler=function.handler,
            )
            kwargs: dict[str, Any] = {"drain_seconds": drain_seconds}
            if lease is not None:
                kwargs["lease_seconds"] = lease
            listener = QueueListener(
                resolved, service, self.config.queues, self.invoke_queue, **kwargs
            )
            listener.start()
            self._listeners.append(listener)
            logger.info(
                "Queue listener for 'Functions.%s' polls %s", function.name, resolved.queue_name
            )

    def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Stop the queue listeners, wait for admin-invoked runs (up to ``drain_seconds``),
        then stop the event loop thread that async functions run on (if one was started)."""
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.stop()
        deadline = time.monotonic() + drain_seconds
        with self._background_lock:
            running = list(self._background)
        for thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._async.close()

    def run_timer(self, name: str, past_due: bool = False) -> None:
        """Run a timer function now, in this thread, without a time limit; its exceptions
        propagate (the command line's `run-timer`)."""
        timer = self._timer(name)
        self._call(timer.handler, {timer.arg_name: TimerRequest(past_due=past_due)})

    def invoke_queue(self, function: QueueFunction, message: func.QueueMessage) -> None:
        """Call a queue function with one message, within functionTimeout; raises on failure."""
        self._call(
            function.handler,
            {function.arg_name: message},
            self.config.function_timeout,
            function.name,
        )

    def _timer(self, name: str) -> TimerFunction:
        timer = self._timers_by_name.get(name.lower())
        if timer is None:
            known = ", ".join(t.name for t in self._timers) or "(none)"
            raise KeyError(f"No timer function named {name!r}; timer functions: {known}")
        return timer

    def handle_http(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        scheme: str = "http",
    ) -> HostResponse:
        """Answer one request. ``path`` is the raw (still percent-encoded) URL path."""
        method = method.upper()
        segments = split_path(path)
        if segments and segments[0].lower() == "admin":
            return self._handle_admin(method, segments, body)
        for function in self._by_precedence:
            route_params = function.route.match_segments(segments)
            if route_params is None or not function.allows(method):
                continue
            request = func.HttpRequest(
                method=method,
                url=_full_url(scheme, headers, path, query_string),
                headers=dict(headers),
                params=_query_params(query_string),
                route_params=route_params,
                body=body,
            )
            return self._invoke_http(function, request)
        return HostResponse(404, [], b"")

    def _invoke_http(self, function: HttpFunction, request: func.HttpRequest) -> HostResponse:
        kwargs: dict[str, Any] = {function.arg_name: request}
        out = None
        if function.output_name != _RETURN:
            out = kwargs[function.output_name] = _Out()
        try:
            result = self._call(
                function.handler, kwargs, self.config.function_timeout, function.name
            )
            return _to_host_response(out.get() if out is not None else result)
        except FunctionTimeoutError:
            return HostResponse(500, [], b"")  # logged by _call
        except Exception:
            logger.exception(
                "Function %r failed on %s %s", function.name, request.method, request.url
            )
            return HostResponse(500, [], b"")

    def _handle_admin(self, method: str, segments: list[str], body: bytes) -> HostResponse:
        if _ADMIN_LIST.match_segments(segments) is not None:
            if method != "GET":
                return HostResponse(405, [("Allow", "GET")], b"")
            payload = json.dumps(self.describe()).encode()
            return HostResponse(200, [("Content-Type", "application/json")], payload)
        invoke = _ADMIN_INVOKE.match_segments(segments)
        if invoke is None:
            return HostResponse(404, [], b"")
        if method != "POST":
            return HostResponse(405, [("Allow", "POST")], b"")
        return self._admin_invoke(invoke["name"], body)

    def _admin_invoke(self, name: str, body: bytes) -> HostResponse:
        """POST /admin/functions/{name} as the host has it: 202 at once, the function runs in
        the background. The body is a JSON object; its "input" is a queue function's message
        (a timer ignores it)."""
        document: Any = {}
        if body.strip():
            try:
                document = json.loads(body)
            except ValueError:
                document = None
            if not isinstance(document, dict):
                return _text(400, 'The body must be a JSON object like {"input": ""}.')
        key = name.lower()
        if key in self._timers_by_name:
            timer = self._timers_by_name[key]
            kwargs: dict[str, Any] = {timer.arg_name: TimerRequest(past_due=False)}
            self._run_in_background(timer.name, timer.handler, kwargs)
        elif key in self._queues_by_name:
            queue = self._queues_by_name[key]
            message = _admin_queue_message(document.get("input"))
            self._run_in_background(queue.name, queue.handler, {queue.arg_name: message})
        elif key in self._names:
            return _text(400, f"{name} is HTTP-triggered; call its route instead.")
        else:
            return HostResponse(404, [], b"")
        return HostResponse(202, [], b"")

    def _run_in_background(
        self, name: str, handler: Callable[..., Any], kwargs: dict[str, Any]
    ) -> None:
        def run() -> None:
            try:
                self._call(handler, kwargs, self.config.function_timeout, name)
            except FunctionTimeoutError:
                pass  # logged by _call
            except Exception:
                logger.exception("Function %r failed when invoked through the admin API", name)
            finally:
                with self._background_lock:
                    self._background.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=f"admin-invoke-{name}", daemon=True)
        with self._background_lock:
            self._background.add(thread)
        thread.start()

    def _call(
        self,
        handler: Callable[..., Any],
        kwargs: dict[str, Any],
        timeout: float | None = None,
        name: str = "",
    ) -> Any:
        """Call a function; with a timeout, abandon it (FunctionTimeoutError) when it runs
        longer. A sync function then runs on in its own daemon thread, as Python cannot stop
        it; a coroutine is cancelled."""
        try:
            if timeout is None:
                result = handler(**kwargs)
                return self._async.run(result) if inspect.isawaitable(result) else result
            started = time.monotonic()
            if inspect.iscoroutinefunction(handler):
                return self._async.run(handler(**kwargs), timeout)
            result = _run_with_timeout(handler, kwargs, timeout)
            if inspect.isawaitable(result):
                remaining = max(0.0, timeout - (time.monotonic() - started))
                return self._async.run(result, remaining)
            return result
        except FunctionTimeoutError:
            logger.error(
                "Timeout value of %s exceeded by function 'Functions.%s'. Initiating "
                "cancellation (the call is abandoned).",
                _timespan(timeout or 0),
                name,
            )
            raise


class _DaemonPool:
    """Threads that run the calls a timeout watches, as the worker's thread pool does.

    An idle thread is reused (starting one per call costs more than a small request); a new one
    starts only when none is idle. Daemon threads, unlike concurrent.futures': a call abandoned
    at functionTimeout never keeps the process from exiting.
    """

    def __init__(self) -> None:
        self._tasks: SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
        self._tasks = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def submit(self, call: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                self._started += 1
                threading.Thread(
                    target=self._work, name=f"function-{self._started}", daemon=True
                ).start()
        self._tasks.put((call, future))
        return future

    def _work(self) -> None:
        while True:
            call, future = self._tasks.get()
            try:
                future.set_result(call())
            except BaseException as error:
                future.set_exception(error)
            with self._lock:
                self._idle += 1


_POOL = _DaemonPool()


def _run_with_timeout(handler: Callable[..., Any], kwargs: dict[str, Any], timeout: float) -> Any:
    future = _POOL.submit(lambda: handler(**kwargs))
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        raise FunctionTimeoutError from None


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _admin_queue_message(value: Any) -> func.QueueMessage:
    """The message a queue function gets from the admin API: the "input" text as its body."""
    body = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
    now = dt.datetime.now(dt.UTC)
    return TriggerMessage(  # type: ignore[no-untyped-call]
        id=str(uuid.uuid4()),
        body=body,
        dequeue_count=1,
        insertion_time=now,
        expiration_time=now + dt.timedelta(days=7),
        time_next_visible=now,
        pop_receipt=None,
    )


#: Bindings this host provides: the three triggers and the HTTP response.
_SUPPORTED_BINDINGS = frozenset({"httptrigger", "http", "timertrigger", "queuetrigger"})


def _unsupported_bindings(function: Function) -> list[str]:
    """A binding the host would not fill (an output to a queue or blob, an input) would fail
    only when the function is called: refuse it at start instead, naming it."""
    name = function.get_function_name() or function.get_user_function().__name__
    return [
        f"The function '{name}' declares a '{binding.type}' binding ('{binding.name}'), which "
        "the local host does not provide; use the SDK in the function instead"
        for binding in function.get_bindings()
        if str(getattr(binding, "type", "")).lower() not in _SUPPORTED_BINDINGS
    ]


def _index_http(function: Function, trigger: Trigger, route_prefix: str) -> HttpFunction:
    name = function.get_function_name() or function.get_user_function().__name__
    route = getattr(trigger, "route", None) or name  # build() already defaults it; be safe
    if route_prefix.strip("/"):
        route = f"{route_prefix.strip('/')}/{route.lstrip('/')}"
    methods = getattr(trigger, "methods", None) or ()
    outputs = [
        binding.name
        for binding in function.get_bindings()
        if isinstance(binding, HttpOutput) or getattr(binding, "type", None) == "http"
    ]
    return HttpFunction(
        name=name,
        route=RouteTemplate(route),
        methods=frozenset(str(getattr(m, "value", m)).upper() for m in methods) or None,
        arg_name=trigger.name,
        output_name=outputs[0] if outputs else _RETURN,
        handler=function.get_user_function(),
    )


def _index_timer(function: Function, trigger: Trigger, environ: Mapping[str, str]) -> TimerFunction:
    schedule = str(getattr(trigger, "schedule", ""))
    return TimerFunction(
        name=function.get_function_name() or function.get_user_function().__name__,
        schedule=substitute_known_settings(schedule, environ),
        raw_schedule=schedule,
        arg_name=trigger.name,
        handler=function.get_user_function(),
    )


def _index_queue(function: Function, trigger: Trigger, environ: Mapping[str, str]) -> QueueFunction:
    queue_name = str(getattr(trigger, "queue_name", ""))
    return QueueFunction(
        name=function.get_function_name() or function.get_user_function().__name__,
        queue_name=substitute_known_settings(queue_name, environ),
        connection=getattr(trigger, "connection", None),
        arg_name=trigger.name,
        handler=function.get_user_function(),
    )


def _full_url(scheme: str, headers: Mapping[str, str], path: str, query_string: str) -> str:
    host = next((v for k, v in headers.items() if k.lower() == "host"), "localhost")
    url = f"{scheme}://{host}/{path.lstrip('/')}"
    return f"{url}?{query_string}" if query_string else url


def _query_params(query_string: str) -> dict[str, str]:
    """Decode the query like ASP.NET's case-insensitive query collection: repeated keys are
    joined with "," (StringValues.ToString), under the first spelling of the key."""
    params: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        first = spelling.setdefault(key.lower(), key)
        params[first] = f"{params[first]},{value}" if first in params else value
    return params


def _to_host_response(result: Any) -> HostResponse:
    """Mirror the worker's HttpResponseConverter: HttpResponse or str, Content-Type defaulted
    from mimetype/charset (charset only for text/*)."""
    if isinstance(result, str):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        raise TypeError(
            f"An HTTP function must return func.HttpResponse or str, not {type(result).__name__}"
        )
    headers = [(str(k), str(v)) for k, v in result.headers.items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        mimetype = result.mimetype
        text = mimetype.startswith("text/")
        headers.append(
            ("Content-Type", f"{mimetype}; charset={result.charset}" if text else mimetype)
        )
    return HostResponse(int(result.status_code), headers, result.get_body() or b"")


def _text(status: int, message: str) -> HostResponse:
    return HostResponse(status, [("Content-Type", "text/plain; charset=utf-8")], message.encode())
