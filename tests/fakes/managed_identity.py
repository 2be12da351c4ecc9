"""A fake of the App Service / Azure Functions managed identity endpoint.

On App Service the platform sets IDENTITY_ENDPOINT (a plain-http URL on the local machine) and
IDENTITY_HEADER (a shared secret). azure-identity's ManagedIdentityCredential, through MSAL, then
asks for a token with

    GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>]
    X-IDENTITY-HEADER: {IDENTITY_HEADER}

and reads `access_token`, `expires_on` (epoch seconds), `resource` and `token_type` from the JSON.
This fake speaks exactly that, issues random tokens and remembers them, so the Key Vault fake
can tell a token the app really obtained from a forged one. Unpinned tokens are JWT-shaped (an
unsigned header and the claims Azurite's `--oauth basic` checks: audience, issuer, lifetime;
then a random part), so Azurite over HTTPS accepts them as Blob Storage does an Entra token.

By default every request gets a new token. `pin(resource, lifetime, on_issue)` makes the endpoint
behave as the platform's caching one does for that resource: the same current token until it is
half-way to its expiry (or expired, or `rotate(resource)` replaces it), then a new one; `on_issue`
hears of each new token before it is handed out (a test sets a database role's password to it).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.http import FakeServer

API_VERSION = "2019-08-01"
TOKEN_PATH = "/msi/token"
SYSTEM_ASSIGNED_CLIENT_ID = "00000000-0000-0000-0000-00000000face"
FAKE_TENANT_ID = "00000000-0000-0000-0000-0000000fa4e0"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_shaped_token(resource: str, client_id: str, now: float, expires_on: int) -> str:
    """A token shaped like Entra's (header.claims.signature), unique by its random last part."""
    header = {"alg": "none", "typ": "JWT"}
    claims = {
        "aud": resource,
        "iss": f"https://sts.windows.net/{FAKE_TENANT_ID}/",
        "iat": int(now),
        "nbf": int(now) - 60,
        "exp": expires_on,
        "oid": client_id,
        "tid": FAKE_TENANT_ID,
    }
    parts = [json.dumps(part, separators=(",", ":")).encode() for part in (header, claims)]
    return ".".join([*map(_b64url, parts), secrets.token_urlsafe(32)])


@dataclass(frozen=True)
class IssuedToken:
    resource: str
    client_id: str
    expires_on: int
    issued_at: float = 0.0


@dataclass
class _Pinned:
    lifetime: int
    on_issue: Callable[[str], None] | None
    token: str | None = None
    issued: int = 0
    requests: int = 0


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
        self._pinned: dict[str, _Pinned] = {}
        #: Held while a pinned resource's token is replaced (and `on_issue` runs), so concurrent
        #: requests get the one new token, never two.
        self._pin_lock = threading.Lock()

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

    # -- pinned resources: one current token at a time, as the platform's endpoint caches -------

    def pin(
        self, resource: str, lifetime: int, on_issue: Callable[[str], None] | None = None
    ) -> None:
        """From now on `resource` gets its current token (lifetime seconds) until it is half
        expired or rotated; `on_issue(token)` runs before each new one is handed out."""
        with self._pin_lock:
            self._pinned[resource] = _Pinned(lifetime, on_issue)

    def unpin(self, resource: str) -> None:
        with self._pin_lock:
            self._pinned.pop(resource, None)

    def rotate(self, resource: str) -> str:
        """Replace the pinned resource's current token now (the old one stays valid until it
        expires, as in Entra) and return the new one."""
        with self._pin_lock:
            return self._new_pinned_token(resource, self._pinned[resource], "rotate")

    def current_token(self, resource: str) -> str | None:
        with self._pin_lock:
            pinned = self._pinned.get(resource)
            return pinned.token if pinned else None

    def issued_for(self, resource: str) -> int:
        """How many tokens a pinned resource was given (first one, refreshes, rotations)."""
        with self._pin_lock:
            return self._pinned[resource].issued

    def requests_for(self, resource: str) -> int:
        """How many token requests for a pinned resource the endpoint answered."""
        with self._pin_lock:
            return self._pinned[resource].requests

    def _pinned_token(self, resource: str, client_id: str) -> tuple[str, int] | None:
        with self._pin_lock:
            pinned = self._pinned.get(resource)
            if pinned is None:
                return None
            pinned.requests += 1
            token = pinned.token
            info = self.token_info(token) if token else None
            if info is None or info.expires_on - time.time() <= pinned.lifetime / 2:
                token = self._new_pinned_token(resource, pinned, client_id)
                info = self.token_info(token)
            assert token is not None
            assert info is not None
            return token, info.expires_on

    def _new_pinned_token(self, resource: str, pinned: _Pinned, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        if pinned.on_issue is not None:
            pinned.on_issue(token)
        with self._lock:
            self._issued[token] = IssuedToken(resource, client_id, int(now) + pinned.lifetime, now)
        pinned.token = token
        pinned.issued += 1
        return token

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
        pinned = self._pinned_token(resource, client_id)
        if pinned is not None:
            token, expires_on = pinned
        else:
            now = time.time()
            expires_on = int(now) + self.token_lifetime
            token = jwt_shaped_token(resource, client_id, now, expires_on)
            with self._lock:
                self._issued[token] = IssuedToken(resource, client_id, expires_on, now)
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
