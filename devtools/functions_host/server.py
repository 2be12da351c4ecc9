"""Put a FunctionsHost behind waitress, a real threaded HTTP server.

Tests and local runs talk real HTTP (keep-alive, Content-Length, concurrent requests) to the same
FunctionApp object Azure would run, instead of calling handlers directly, so wire-level mistakes
show up here and not in Azure.
"""

from __future__ import annotations

import http
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote, urlsplit
from wsgiref.util import is_hop_by_hop

import azure.functions as func
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from devtools.functions_host.host import FunctionsHost, HostResponse
from devtools.functions_host.local_settings import export_local_settings

logger = logging.getLogger(__name__)

# waitress refuses larger bodies before they reach Python; the app's own 1 MiB limit gives the
# real error message. The real host allows 100 MB, far more than this API ever needs.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class WsgiApp:
    """WSGI callable that turns environ into FunctionsHost.handle_http arguments and back."""

    def __init__(self, host: FunctionsHost) -> None:
        self.host = host

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        try:
            body = _read_body(environ)
        except ValueError:
            response = HostResponse(400, [], b"")
        else:
            response = self.host.handle_http(
                method,
                _raw_path(environ),
                _wsgi_to_text(str(environ.get("QUERY_STRING", ""))),
                _forwarded_for_peer(_request_headers(environ), environ),
                body,
                scheme=str(environ.get("wsgi.url_scheme", "http")),
            )
        headers = _response_headers(response)
        start_response(_status_line(response.status), headers)
        # HEAD keeps the GET-style Content-Length but sends no body (waitress would send it).
        return [] if method == "HEAD" else [response.body]


@dataclass
class RunningServer:
    """A waitress server on a daemon thread; stop() closes it and the host's event loop."""

    base_url: str
    port: int
    host: FunctionsHost
    _server: BaseWSGIServer = field(repr=False)
    _socket_map: dict[int, Any] = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        # Close sockets on the server's own loop thread (waitress is not thread-safe here);
        # once its socket map is empty the loop returns and the thread ends.
        try:
            # types-waitress declares `trigger` an int; it is the loop's trigger object.
            self._server.trigger.pull_trigger(  # type: ignore[attr-defined]
                lambda: _close_all(self._socket_map)
            )
        except OSError:
            # The trigger's pipe was closed under us (seen once in a long test run, as an fd
            # number reused after another object's late close). Close from here instead.
            logger.warning("server trigger unusable; closing the sockets from the caller")
            _close_all(self._socket_map)
        self._thread.join(timeout)
        # types-waitress says int; waitress only adds the timeout to time.time().
        self._server.task_dispatcher.shutdown(timeout=timeout)  # type: ignore[arg-type]
        self.host.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    app: func.FunctionApp, host: str = "127.0.0.1", port: int = 7071, threads: int = 8
) -> None:
    """Serve the app in the foreground until interrupted (Ctrl+C), like ``func start``:
    local.settings.json's Values are exported first (existing variables win), the app is
    indexed and checked (HostStartError), then HTTP is served and queue triggers polled."""
    export_local_settings()
    functions_host = FunctionsHost(app)
    functions_host.check_start()
    server = _create_server(functions_host, host, port, threads, {})
    print(summary_line(functions_host, _base_url(host, _effective_port(server))), flush=True)
    try:
        functions_host.start_listeners()
        server.run()  # returns after Ctrl+C, having shut its worker threads down
    finally:
        server.close()
        functions_host.close()


def start_background_server(
    app: func.FunctionApp,
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int = 8,
    *,
    functions_host: FunctionsHost | None = None,
) -> RunningServer:
    """Start serving on a daemon thread and return at once; port 0 picks a free port.

    In-process (tests): nothing is exported from local.settings.json; the host reads this
    process's environment. Pass ``functions_host`` to serve one built with its own config.
    """
    functions_host = functions_host if functions_host is not None else FunctionsHost(app)
    functions_host.check_start()
    socket_map: dict[int, Any] = {}
    server = _create_server(functions_host, host, port, threads, socket_map)
    port = _effective_port(server)
    base_url = _base_url(host, port)
    thread = threading.Thread(target=server.run, name="functions-host-server", daemon=True)
    thread.start()
    functions_host.start_listeners()
    logger.info("%s", summary_line(functions_host, base_url))
    return RunningServer(base_url, port, functions_host, server, socket_map, thread)


def summary_line(host: FunctionsHost, base_url: str) -> str:
    """One line in the spirit of Core Tools' start-up listing of functions."""
    routes = [
        f"{fn.name} [{','.join(sorted(fn.methods)) if fn.methods else 'ALL'}] "
        f"{base_url}/{fn.route.text.lstrip('/')}"
        for fn in host.http_functions
    ]
    timers = [f"{timer.name} ({timer.schedule})" for timer in host.timer_functions]
    queues = [f"{queue.name} ({queue.queue_name})" for queue in host.queue_functions]
    return (
        f"Functions host on {base_url} | http: {'; '.join(routes) or '-'}"
        f" | timers: {'; '.join(timers) or '-'} | queues: {'; '.join(queues) or '-'}"
    )


def _create_server(
    functions_host: FunctionsHost, host: str, port: int, threads: int, socket_map: dict[int, Any]
) -> BaseWSGIServer:
    """One listening socket only: a name resolving to several addresses (``localhost`` to ::1
    and 127.0.0.1) would give several servers, and with port 0 several ports."""
    server = create_server(
        WsgiApp(functions_host),
        map=socket_map,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=MAX_REQUEST_BODY_BYTES,
        # waitress 3 drops X-Forwarded-* from untrusted peers by default; the app reads them.
        clear_untrusted_proxy_headers=False,
    )
    if not isinstance(server, BaseWSGIServer):
        server.close()
        raise ValueError(f"{host!r} resolves to several addresses; pass one IP, e.g. 127.0.0.1")
    return server


def _effective_port(server: BaseWSGIServer) -> int:
    """The port the server listens on (the one chosen for port 0)."""
    # BaseWSGIServer.__init__ sets effective_port; types-waitress does not declare it.
    return int(server.effective_port)  # type: ignore[attr-defined]


def _close_all(socket_map: dict[int, Any]) -> None:
    """Close the listener, its trigger and every open connection, so waitress's loop ends."""
    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, HTTPChannel):
            dispatcher.handle_close()
        else:
            dispatcher.close()


def _base_url(host: str, port: int | str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _wsgi_to_text(value: str) -> str:
    """WSGI carries raw bytes as latin-1 text; recover the UTF-8 text the client sent."""
    return value.encode("latin-1").decode("utf-8", "replace")


def _raw_path(environ: dict[str, Any]) -> str:
    """The still-encoded path, so %2F inside a route value is not mistaken for a separator."""
    uri = str(environ.get("REQUEST_URI") or environ.get("RAW_URI") or "")
    if uri.startswith("/"):
        path = uri.split("?", 1)[0].split("#", 1)[0]
    elif uri:
        path = urlsplit(uri).path  # absolute-form request target
    else:
        path = quote(str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")))
    return _wsgi_to_text(path) or "/"


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read exactly CONTENT_LENGTH bytes; without one, read to EOF only if the server says the
    stream is terminated (waitress de-chunks and does)."""
    stream: IO[bytes] = environ["wsgi.input"]
    length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if length_text:
        length = int(length_text)
        if length < 0:
            raise ValueError("negative Content-Length")
        return stream.read(length) if length else b""
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            raw_name = key[5:]
        elif key in {"CONTENT_TYPE", "CONTENT_LENGTH"} and value:
            raw_name = key
        else:
            continue
        name = "-".join(part.capitalize() for part in raw_name.split("_"))
        headers[name] = str(value)
    return headers


def _forwarded_for_peer(headers: dict[str, str], environ: dict[str, Any]) -> dict[str, str]:
    """Append the peer's address to X-Forwarded-For, as the Functions front end does in Azure:
    the right-most entry is the one the platform saw, whatever the caller wrote before it."""
    peer = str(environ.get("REMOTE_ADDR") or "")
    if peer:
        given = headers.get("X-Forwarded-For", "").strip()
        headers["X-Forwarded-For"] = f"{given}, {peer}" if given else peer
    return headers


def _response_headers(response: HostResponse) -> list[tuple[str, str]]:
    headers = []
    for name, value in response.headers:
        if is_hop_by_hop(name) or name.lower() == "content-length":
            continue  # WSGI forbids hop-by-hop headers; Content-Length is recomputed below
        headers.append((name, value))
    if response.status >= 200 and response.status not in {204, 304}:
        headers.append(("Content-Length", str(len(response.body))))
    return headers


def _status_line(status: int) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status} {phrase}"
