"""An HTTPS fake of Azure Communication Services Email, good enough for azure-communication-email.

- `POST /emails:send?api-version=...`: authenticated as the SDK does with a connection string
  (HMAC-SHA256: `x-ms-date`, `x-ms-content-sha256` of the body, and `Authorization:
  HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=...` over
  "VERB\\npath?query\\ndate;host;hash" with the access key). A valid message (senderAddress,
  recipients.to, content.subject) is answered 202 with `Operation-Location` and
  `{"id", "status": "Running"}`. The `Operation-Id` header names the operation: a repeated id
  is the same operation and sends nothing again, as ACS does.
- `GET /emails/operations/{id}?api-version=...`: `{"id", "status": "Succeeded"}`.

`down()` answers 503 to every send until `up()`; `sent` lists the mails accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.http import FakeServer, azure_error, json_response, server_ssl_context

HOST = "127.0.0.1"
_OPERATION = re.compile(r"^/emails/operations/(?P<id>[^/]+)$")
_AUTH = re.compile(r"^HMAC-SHA256 SignedHeaders=(?P<headers>[^&]+)&Signature=(?P<sig>.+)$")


@dataclass(frozen=True)
class Mail:
    operation_id: str
    sender: str
    to: list[str]
    subject: str
    text: str


class FakeAcsEmail(FakeServer):
    def __init__(self, ca: trustme.CA) -> None:
        self._server = HTTPServer(
            host=HOST, port=0, ssl_context=server_ssl_context(ca, HOST), threaded=True
        )
        self._server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)
        self.access_key = base64.b64encode(os.urandom(32)).decode("ascii")
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.sent: list[Mail] = []
            self.operations: dict[str, Mail] = {}
            self.refused: list[str] = []
            self.attempts = 0
            self._down = False

    @property
    def endpoint(self) -> str:
        return self._server.url_for("/")

    @property
    def connection_string(self) -> str:
        return f"endpoint={self.endpoint};accesskey={self.access_key}"

    def down(self) -> None:
        with self._lock:
            self._down = True

    def up(self) -> None:
        with self._lock:
            self._down = False

    def _handle(self, request: Request) -> Response:
        problem = self._check_hmac(request)
        if problem:
            self.refused.append(problem)
            return azure_error(HTTPStatus.UNAUTHORIZED, "Denied", problem)
        if request.method == "POST" and request.path == "/emails:send":
            return self._send(request)
        match = _OPERATION.match(request.path)
        if request.method == "GET" and match:
            operation_id = match.group("id")
            if operation_id not in self.operations:
                return azure_error(HTTPStatus.NOT_FOUND, "NotFound", "no such operation")
            return json_response(HTTPStatus.OK, {"id": operation_id, "status": "Succeeded"})
        return azure_error(HTTPStatus.NOT_FOUND, "NotFound", request.path)

    def _send(self, request: Request) -> Response:
        if "api-version" not in request.args:
            return azure_error(HTTPStatus.BAD_REQUEST, "MissingApiVersion", "api-version")
        with self._lock:
            self.attempts += 1
            if self._down:
                return azure_error(HTTPStatus.SERVICE_UNAVAILABLE, "Unavailable", "down")
        try:
            body: dict[str, Any] = json.loads(request.get_data())
            mail = Mail(
                operation_id=request.headers.get("Operation-Id") or str(uuid.uuid4()),
                sender=body["senderAddress"],
                to=[r["address"] for r in body["recipients"]["to"]],
                subject=body["content"]["subject"],
                text=body["content"].get("plainText", ""),
            )
        except (ValueError, KeyError, TypeError) as exc:
            return azure_error(HTTPStatus.BAD_REQUEST, "BadRequest", f"bad message: {exc}")
        with self._lock:
            if mail.operation_id not in self.operations:
                self.operations[mail.operation_id] = mail
                self.sent.append(mail)
        location = (
            f"{self.endpoint}emails/operations/{mail.operation_id}?api-version="
            + (request.args["api-version"])
        )
        response = json_response(
            HTTPStatus.ACCEPTED, {"id": mail.operation_id, "status": "Running"}
        )
        response.headers["Operation-Location"] = location
        response.headers["Retry-After"] = "1"
        return response

    def _check_hmac(self, request: Request) -> str | None:
        match = _AUTH.match(request.headers.get("Authorization", ""))
        if match is None:
            return "no HMAC-SHA256 Authorization"
        if match.group("headers") != "x-ms-date;host;x-ms-content-sha256":
            return "unexpected SignedHeaders"
        body = request.get_data()
        content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
        if request.headers.get("x-ms-content-sha256") != content_hash:
            return "x-ms-content-sha256 does not match the body"
        path = request.full_path.rstrip("?") if request.query_string else request.path
        string_to_sign = (
            f"{request.method}\n{path}\n{request.headers.get('x-ms-date', '')};"
            f"{request.host};{content_hash}"
        )
        expected = base64.b64encode(
            hmac.new(
                base64.b64decode(self.access_key), string_to_sign.encode("utf-8"), hashlib.sha256
            ).digest()
        ).decode("ascii")
        if not hmac.compare_digest(expected, match.group("sig")):
            return "HMAC signature does not match"
        return None
