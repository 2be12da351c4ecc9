"""An HTTPS fake of a Web Push service (RFC 8030) that checks what a real one checks.

`subscription()` makes a browser's subscription: an endpoint on this server and the keys a
browser would send (`p256dh`, the public half of a P-256 key the fake keeps, and a 16-byte
`auth` secret). A push (`POST /push/<token>`) must carry:

- `Authorization: vapid t=<JWT>,k=<public key>` (RFC 8292): the JWT signed ES256 by `k`, its `aud`
  the origin of the endpoint, its `exp` in the future and at most 24 hours ahead, a `sub`; and
  `k` must be the application server key the fake was told to expect (`expect_key`);
- `Content-Encoding: aes128gcm` and a `TTL` header;
- a body that decrypts (RFC 8291) with the subscription's private key and auth secret.

A push that passes is answered 201 and kept, decrypted (`received`). `fail_next(status, n)` makes
the next n pushes fail with `status` (500: an outage; `fail_always` until `recover()`), `gone(
endpoint)` makes an endpoint answer 410 (the browser unsubscribed).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import http_ece
import jwt
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.http import FakeServer, server_ssl_context

HOST = "127.0.0.1"
_PUSH_PATH = re.compile(r"^/push/(?P<token>[A-Za-z0-9_-]+)$")
_VAPID = re.compile(r"^vapid t=(?P<t>[^,]+),\s*k=(?P<k>[A-Za-z0-9_-]+)$")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_vapid_key() -> tuple[str, str]:
    """A VAPID key pair as the app's settings hold them: (private raw base64url, public)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(private), b64url(public)


@dataclass
class _Subscription:
    token: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes


@dataclass(frozen=True)
class Push:
    endpoint: str
    payload: dict[str, Any]
    ttl: int
    urgency: str | None
    claims: dict[str, Any] = field(default_factory=dict)


class FakeWebPush(FakeServer):
    def __init__(self, ca: trustme.CA) -> None:
        self._server = HTTPServer(
            host=HOST, port=0, ssl_context=server_ssl_context(ca, HOST), threaded=True
        )
        self._server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self._subscriptions: dict[str, _Subscription] = {}
            self._gone: set[str] = set()
            self._fail: list[int] = []
            self._fail_always: int | None = None
            self.expected_key: str | None = None
            self.received: list[Push] = []
            self.refused: list[str] = []
            self.attempts = 0

    @property
    def origin(self) -> str:
        return self._server.url_for("/").rstrip("/")

    def expect_key(self, public_key: str) -> None:
        self.expected_key = public_key

    def subscription(self) -> dict[str, Any]:
        """A browser's PushSubscription.toJSON() for an endpoint on this service."""
        token = b64url(os.urandom(12))
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        with self._lock:
            self._subscriptions[token] = _Subscription(token, key, auth)
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.origin}/push/{token}",
            "keys": {"p256dh": b64url(public), "auth": b64url(auth)},
        }

    def gone(self, endpoint: str) -> None:
        with self._lock:
            self._gone.add(endpoint.rsplit("/", 1)[-1])

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        with self._lock:
            self._fail.extend([status] * times)

    def fail_always(self, status: int = 503) -> None:
        with self._lock:
            self._fail_always = status

    def recover(self) -> None:
        with self._lock:
            self._fail_always = None
            self._fail.clear()

    def pushes_to(self, endpoint: str) -> list[Push]:
        return [p for p in self.received if p.endpoint == endpoint]

    # -- the service ---------------------------------------------------------------------------

    def _refuse(self, status: HTTPStatus, reason: str) -> Response:
        self.refused.append(reason)
        return Response(reason, status=status)

    def _handle(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per check
        match = _PUSH_PATH.match(request.path)
        if request.method != "POST" or match is None:
            return Response("not found", status=404)
        token = match.group("token")
        with self._lock:
            self.attempts += 1
            subscription = self._subscriptions.get(token)
            if token in self._gone:
                return Response("gone", status=410)
            if self._fail_always is not None:
                return Response("unavailable", status=self._fail_always)
            if self._fail:
                return Response("failing", status=self._fail.pop(0))
        if subscription is None:
            return Response("no such subscription", status=404)
        claims_or_error = self._check_vapid(request.headers.get("Authorization", ""))
        if isinstance(claims_or_error, str):
            return self._refuse(HTTPStatus.UNAUTHORIZED, claims_or_error)
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Encoding")
        ttl = request.headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            return self._refuse(HTTPStatus.BAD_REQUEST, "TTL header missing")
        try:
            plain = http_ece.decrypt(
                request.get_data(),
                private_key=subscription.key,
                auth_secret=subscription.auth,
                version="aes128gcm",
            )
            payload = json.loads(plain)
        except Exception as exc:
            return self._refuse(HTTPStatus.BAD_REQUEST, f"undecryptable body: {exc}")
        with self._lock:
            self.received.append(
                Push(
                    endpoint=f"{self.origin}/push/{token}",
                    payload=payload,
                    ttl=int(ttl),
                    urgency=request.headers.get("Urgency"),
                    claims=claims_or_error,
                )
            )
        return Response("", status=201, headers={"Location": f"{self.origin}/message/1"})

    def _check_vapid(self, header: str) -> dict[str, Any] | str:
        match = _VAPID.match(header)
        if match is None:
            return "Authorization is not vapid t=...,k=..."
        key_text = match.group("k")
        if self.expected_key is not None and key_text != self.expected_key:
            return "k is not the expected application server key"
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), unb64url(key_text)
            )
            claims: dict[str, Any] = jwt.decode(
                match.group("t"),
                key=public,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["exp", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            return f"VAPID JWT refused: {exc}"
        if claims["exp"] > time.time() + 24 * 3600:
            return "exp more than 24 hours ahead"
        return claims
