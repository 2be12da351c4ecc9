"""Dispatch HTTP requests and admin calls to the functions of one ``azure.functions.FunctionApp``.

Core Tools cannot be installed on this machine, so local runs and tests serve the very same
FunctionApp object the Azure host would index. This module does what the host and the Python worker
do between the socket and the user's function: pick the function by route precedence and method,
build the ``func.HttpRequest`` (with route params, which the request object never parses itself),
call the function, and turn its ``func.HttpResponse`` back into status, headers and bytes. It knows
nothing about sockets; server.py puts it behind waitress.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func
from azure.functions.decorators.core import Trigger
from azure.functions.decorators.function_app import Function
from azure.functions.decorators.http import HttpOutput, HttpTrigger
from azure.functions.decorators.timer import TimerTrigger
from azure.functions.timer import TimerRequest

from devtools.functions_host.routes import RouteTemplate, split_path

logger = logging.getLogger(__name__)

_APP_SETTING = re.compile(r"%([^%]+)%")
_ADMIN_LIST = RouteTemplate("admin/functions")
_ADMIN_INVOKE = RouteTemplate("admin/functions/{name}")
_RETURN = "$return"


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

    def run(self, awaitable: Awaitable[Any]) -> Any:
        async def wait() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self._ensure_loop()).result()

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
    """Serve one FunctionApp's HTTP functions and run its timers on demand.

    ``app.get_functions()`` may be called only once per app object (a second call trips the
    duplicate-name check), so it is called here, once, and everything is indexed up front. A bad
    route template fails construction, as it fails the real host's start-up.
    """

    def __init__(self, app: func.FunctionApp, *, route_prefix: str = "") -> None:
        self._async = _EventLoopThread()
        http: list[HttpFunction] = []
        timers: list[TimerFunction] = []
        for function in app.get_functions():
            trigger = function.get_trigger()
            if trigger is None:
                continue
            if Trigger.is_supported_trigger_type(trigger, HttpTrigger):
                http.append(_index_http(function, trigger, route_prefix))
            elif Trigger.is_supported_trigger_type(trigger, TimerTrigger):
                timers.append(_index_timer(function, trigger))
            else:
                logger.warning(
                    "Function %r (%s) is not served by the dev host; only HTTP and timer "
                    "triggers are",
                    function.get_function_name(),
                    trigger.type,
                )
        self._http = tuple(http)
        self._timers = tuple(timers)
        # sorted() is stable: equal templates keep registration order.
        self._by_precedence = sorted(self._http, key=lambda fn: fn.route.sort_key)
        self._timers_by_name = {timer.name.lower(): timer for timer in timers}
        self._names = {fn.name.lower() for fn in self._http} | set(self._timers_by_name)

    @property
    def http_functions(self) -> tuple[HttpFunction, ...]:
        return self._http

    @property
    def timer_functions(self) -> tuple[TimerFunction, ...]:
        return self._timers

    def describe(self) -> list[dict[str, Any]]:
        """The function list that GET /admin/functions returns."""
        functions: tuple[HttpFunction | TimerFunction, ...] = (*self._http, *self._timers)
        return [fn.describe() for fn in functions]

    def close(self) -> None:
        """Stop the event loop thread that async functions run on (if one was started)."""
        self._async.close()

    def run_timer(self, name: str, past_due: bool = False) -> None:
        """Run a timer function now, in this thread; its exceptions propagate."""
        timer = self._timers_by_name.get(name.lower())
        if timer is None:
            known = ", ".join(t.name for t in self._timers) or "(none)"
            raise KeyError(f"No timer function named {name!r}; timer functions: {known}")
        self._call(timer.handler, {timer.arg_name: TimerRequest(past_due=past_due)})

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
            result = self._call(function.handler, kwargs)
            return _to_host_response(out.get() if out is not None else result)
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
        """POST /admin/functions/{name} as Core Tools has it; the body's "input" means nothing
        to a timer, so it is only checked for being a JSON object."""
        if body.strip():
            try:
                document = json.loads(body)
            except ValueError:
                document = None
            if not isinstance(document, dict):
                return _text(400, 'The body must be a JSON object like {"input": ""}.')
        if name.lower() not in self._timers_by_name:
            if name.lower() in self._names:
                return _text(400, f"{name} is HTTP-triggered; call its route instead.")
            return HostResponse(404, [], b"")
        try:
            self.run_timer(name)
        except Exception:
            logger.exception("Function %r failed when invoked through the admin API", name)
            return HostResponse(500, [], b"")
        return HostResponse(202, [], b"")

    def _call(self, handler: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        result = handler(**kwargs)
        if inspect.isawaitable(result):
            return self._async.run(result)
        return result


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


def _index_timer(function: Function, trigger: Trigger) -> TimerFunction:
    schedule = str(getattr(trigger, "schedule", ""))
    return TimerFunction(
        name=function.get_function_name() or function.get_user_function().__name__,
        schedule=_APP_SETTING.sub(lambda m: os.environ.get(m.group(1), m.group(0)), schedule),
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
