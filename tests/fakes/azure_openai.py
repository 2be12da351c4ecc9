"""An HTTPS fake of Azure OpenAI's chat completions endpoint, good enough for the real SDK.

It serves `POST /openai/deployments/{deployment}/chat/completions?api-version=...` over TLS (a
trustme certificate; clients trust it through SSL_CERT_FILE, which httpx2 honours), checks the
`api-key` header (or, when given a fake managed identity, a bearer token issued for Cognitive
Services), records every request body, and answers what the test scripted:

    fake.reply(content={"days": [...]})          # a completion whose message content is this JSON
    fake.reply(content='{"days": [')             # malformed JSON content
    fake.reply(finish_reason="content_filter")   # filtered, no content
    fake.reply(refusal="I can't help with that")
    fake.reply(status=429, retry_after=1)        # Azure's rate limit answer
    fake.reply(status=500)
    fake.reply(content=..., delay=3.0)           # answers after 3 s (slower than the timeout)

Scripted replies are used in order, one per request; `fake.always(...)` sets the answer used once
the script runs out (by default a 500 that says no answer was scripted, so a test that forgot
one fails loudly rather than passing on a template).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.http import FakeServer, azure_error, json_response, server_ssl_context
from tests.fakes.managed_identity import FakeManagedIdentity

HOST = "127.0.0.1"
DEFAULT_API_KEY = "fake-azure-openai-key-0123456789abcdef"
COGNITIVE_SERVICES_RESOURCE = "https://cognitiveservices.azure.com"
_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[A-Za-z0-9._-]+)/chat/completions/?$")


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    content: str | dict[str, Any] | list[Any] | None = None
    finish_reason: str = "stop"
    refusal: str | None = None
    status: int = 200
    retry_after: int | None = None
    delay: float = 0.0
    error_code: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    deployment: str
    api_version: str | None
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def prompt_text(self) -> str:
        """Every message's text, joined: what a privacy test searches."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


_NOTHING_SCRIPTED = Reply(status=500, error_code="no_scripted_answer")


class FakeAzureOpenAI(FakeServer):
    """One Azure OpenAI resource with any deployment name, answering from a script."""

    def __init__(
        self,
        ca: trustme.CA,
        *,
        api_key: str = DEFAULT_API_KEY,
        identity: FakeManagedIdentity | None = None,
    ) -> None:
        self.api_key = api_key
        self.identity = identity
        self._server = HTTPServer(
            host=HOST, port=0, ssl_context=server_ssl_context(ca, HOST), threaded=True
        )
        self._server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._default = _NOTHING_SCRIPTED
        self._requests: list[RecordedRequest] = []
        self._refused = 0
        # Set on reset/stop so a delayed answer stops waiting (its client gave up long ago).
        self._release = threading.Event()

    @property
    def endpoint(self) -> str:
        """The value for AZURE_OPENAI_ENDPOINT (no trailing slash)."""
        return self._server.url_for("/").rstrip("/")

    def reply(self, **kwargs: Any) -> None:
        """Queue one answer (see `Reply`)."""
        with self._lock:
            self._script.append(Reply(**kwargs))

    def always(self, **kwargs: Any) -> None:
        """The answer once the queue is empty."""
        with self._lock:
            self._default = Reply(**kwargs)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Authenticated chat completion requests, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def refused(self) -> int:
        """Requests refused for a missing or wrong credential."""
        with self._lock:
            return self._refused

    def reset(self) -> None:
        """Forget the script and the recorded requests; release any delayed answer."""
        self._release.set()
        with self._lock:
            self._script.clear()
            self._default = _NOTHING_SCRIPTED
            self._requests.clear()
            self._refused = 0
        self._release = threading.Event()
        self._server.clear_log()
        self._server.check_handler_errors()

    def stop(self) -> None:
        self._release.set()
        super().stop()

    def env(self) -> dict[str, str]:
        """Settings pointing the app at this fake (add SSL_CERT_FILE for the CA)."""
        return {
            "AZURE_OPENAI_ENDPOINT": self.endpoint,
            "AZURE_OPENAI_API_KEY": self.api_key,
            "ENABLE_AI_CARE_PLAN": "true",
        }

    # -- the protocol -----------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if match is None or request.method != "POST":
            return azure_error(HTTPStatus.NOT_FOUND, "404", f"Resource not found: {request.path}")
        if not self._authenticated(request):
            with self._lock:
                self._refused += 1
            return azure_error(
                HTTPStatus.UNAUTHORIZED,
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint.",
            )
        if not request.args.get("api-version"):
            return azure_error(HTTPStatus.NOT_FOUND, "404", "Resource not found")
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except json.JSONDecodeError:
            return azure_error(HTTPStatus.BAD_REQUEST, "invalid_json", "The body is not JSON.")
        recorded = RecordedRequest(
            deployment=match["deployment"],
            api_version=request.args.get("api-version"),
            headers={k.lower(): v for k, v in request.headers.items() if k.lower() != "api-key"},
            body=body,
        )
        with self._lock:
            self._requests.append(recorded)
            reply = self._script.popleft() if self._script else self._default
            release = self._release
        if reply.delay:
            release.wait(reply.delay)
        return self._answer(reply)

    def _authenticated(self, request: Request) -> bool:
        if request.headers.get("api-key") is not None:
            return request.headers.get("api-key") == self.api_key
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if self.identity is None or scheme.lower() != "bearer" or not token:
            return False
        return self.identity.is_valid(token.strip(), COGNITIVE_SERVICES_RESOURCE)

    def _answer(self, reply: Reply) -> Response:
        if reply.status == HTTPStatus.TOO_MANY_REQUESTS:
            response = azure_error(
                HTTPStatus.TOO_MANY_REQUESTS,
                "429",
                "Requests to the ChatCompletions_Create Operation have exceeded the token rate"
                " limit of your current pricing tier.",
            )
            response.headers["Retry-After"] = str(reply.retry_after or 1)
            response.headers["retry-after-ms"] = str((reply.retry_after or 1) * 1000)
            return response
        if reply.status >= 400:
            code = reply.error_code or str(reply.status)
            return azure_error(HTTPStatus(reply.status), code, f"The fake answers {reply.status}.")
        content = reply.content
        if content is not None and not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        if reply.finish_reason == "content_filter" and reply.content is None:
            content = None
        message = {"role": "assistant", "content": content, "refusal": reply.refusal}
        if reply.refusal is not None:
            message["content"] = None
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                    "content_filter_results": _filter_results(reply.finish_reason),
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            "prompt_filter_results": [
                {"prompt_index": 0, "content_filter_results": _filter_results("stop")}
            ],
        }
        return json_response(HTTPStatus.OK, completion)


def _filter_results(finish_reason: str) -> dict[str, Any]:
    filtered = finish_reason == "content_filter"
    return {
        category: {"filtered": filtered and category == "violence", "severity": "safe"}
        for category in ("hate", "self_harm", "sexual", "violence")
    }
