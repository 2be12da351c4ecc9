"""What every protocol fake shares: a pytest-httpserver server started without Nagle's delay,
with start/stop and a context manager. Fakes subclass `FakeServer` and route requests to their
own handler."""

from __future__ import annotations

import json
import ssl
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Response


def start_without_nagle(server: HTTPServer) -> None:
    """Start `server` with TCP_NODELAY on its connections.

    werkzeug's handler leaves Nagle's algorithm on; over TLS a response goes out in several small
    writes, and each keep-alive request then waits for a delayed ACK (about 14 ms instead of 3).
    The swap happens before anyone knows the port, so no request meets the old handler.
    """
    server.start()
    assert server.server is not None
    handler = server.server.RequestHandlerClass
    assert isinstance(handler, type)  # typeshed says a callable; werkzeug sets a class
    server.server.RequestHandlerClass = type(
        "NoDelayRequestHandler", (handler,), {"disable_nagle_algorithm": True}
    )


def server_ssl_context(ca: trustme.CA, host: str) -> ssl.SSLContext:
    """A TLS context with a certificate for `host` (and localhost) issued by the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host, "localhost").configure_cert(context)
    return context


def json_response(status: HTTPStatus, body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def azure_error(status: HTTPStatus, code: str, message: str) -> Response:
    """An error as Azure's data-plane services shape it: {"error": {"code", "message"}}."""
    return json_response(status, {"error": {"code": code, "message": message}})


class FakeServer:
    """Base of the fakes: owns `self._server` and its life cycle."""

    _server: HTTPServer

    def start(self) -> None:
        start_without_nagle(self._server)

    def stop(self) -> None:
        if self._server.is_running():
            self._server.stop()
        self._server.check_handler_errors()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
