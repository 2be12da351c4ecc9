"""A fake of the App Service / Azure Functions managed identity endpoint.

On App Service the platform sets IDENTITY_ENDPOINT (a plain-http URL on the local machine) and
IDENTITY_HEADER (a shared secret). azure-identity's ManagedIdentityCredential, through MSAL, then
asks for a token with

    GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>]
    X-IDENTITY-HEADER: {IDENTITY_HEADER}

and reads `access_token`, `expires_on` (epoch seconds), `resource` and `token_type` from the JSON.
This fake speaks exactly that, issues opaque random tokens and remembers them, so the Key Vault
fake can tell a token the app really obtained from a forged one.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.http import FakeServer

API_VERSION = "2019-08-01"
TOKEN_PATH = "/msi/token"
SYSTEM_ASSIGNED_CLIENT_ID = "00000000-0000-0000-0000-00000000face"


@dataclass(frozen=True)
class IssuedToken:
    resource: str
    client_id: str
    expires_on: int


class FakeManagedIdentity(FakeServer):
    """The local token endpoint of an App Service with a managed identity."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        identity_header: str | None = None,
        token_lifetime: int = 3600,
    ) -> None:
        self.identity_header = identity_header or secrets.token_urlsafe(24)
        self.token_lifetime = token_lifetime
        self._server = HTTPServer(host=host, port=0, threaded=True)
        self._server.expect_request(TOKEN_PATH).respond_with_handler(self._handle)
        self._issued: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The value for IDENTITY_ENDPOINT."""
        return self._server.url_for(TOKEN_PATH)

    def env(self) -> dict[str, str]:
        """What the App Service platform would put in the app's environment."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.identity_header}

    @property
    def issued_count(self) -> int:
        """How many tokens were handed out, so tests can prove the app caches its token."""
        with self._lock:
            return len(self._issued)

    def token_info(self, token: str) -> IssuedToken | None:
        """What `token` was issued for, or None if this endpoint never issued it."""
        with self._lock:
            return self._issued.get(token)

    def is_valid(self, token: str, resource: str) -> bool:
        """True for an unexpired token this endpoint issued for `resource` (its audience)."""
        issued = self.token_info(token)
        return (
            issued is not None and issued.resource == resource and issued.expires_on > time.time()
        )

    def _handle(self, request: Request) -> Response:
        if request.method != "GET":
            return _error(HTTPStatus.METHOD_NOT_ALLOWED, "Only GET is supported")
        if not secrets.compare_digest(
            request.headers.get("X-IDENTITY-HEADER", ""), self.identity_header
        ):
            return _error(HTTPStatus.UNAUTHORIZED, "X-IDENTITY-HEADER is missing or wrong")
        if request.args.get("api-version") != API_VERSION:
            return _error(HTTPStatus.BAD_REQUEST, f"api-version must be {API_VERSION}")
        resource = request.args.get("resource", "")
        if not resource:
            return _error(HTTPStatus.BAD_REQUEST, "resource is required")
        return self._issue(resource, request.args.get("client_id") or SYSTEM_ASSIGNED_CLIENT_ID)

    def _issue(self, resource: str, client_id: str) -> Response:
        token = secrets.token_urlsafe(32)
        expires_on = int(time.time()) + self.token_lifetime
        with self._lock:
            self._issued[token] = IssuedToken(resource, client_id, expires_on)
        body = {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }
        return Response(json.dumps(body), status=HTTPStatus.OK, mimetype="application/json")


def _error(status: HTTPStatus, message: str) -> Response:
    """The shape MSAL reads on failure: `statusCode` and `message`."""
    body = {"statusCode": status.value, "message": message}
    return Response(json.dumps(body), status=status, mimetype="application/json")
