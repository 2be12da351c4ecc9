"""One generation: ask for a pydantic schema, parse, check, retry once with the reason.

`generate` never raises for anything the service or the model does: a timeout, a 429, a 5xx,
a connection error, a refusal, a content-filter stop, a truncated (`length`) answer, JSON that
does not fit the schema, or an answer that fails the caller's checks all become a typed
`Failure`. After a first failure there is one more attempt when time is left (the model sees
its previous answer and why it was refused; a transport failure is simply repeated). The
caller gets the accepted value or None with every failure, and uses its template on None.

Both attempts share one deadline (`AiConfig.budget_seconds`, see shared.ai.client): the
second attempt only gets the time that is left, and a 429 whose Retry-After would not leave
enough for a useful attempt ends the generation at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from shared.ai import client as ai_client
from shared.ai.client import AiConfig
from shared.observability import get_logger

log = get_logger("ai")

T = TypeVar("T", bound=BaseModel)
Message = dict[str, str]
Check = Callable[[Any], list[str]]

#: An attempt with less time than this left (or half the timeout, if smaller) is not started.
MIN_ATTEMPT_SECONDS = 0.25
#: Longest wait for a rate-limited retry (Retry-After beyond it: template at once).
MAX_RETRY_AFTER_SECONDS = 10.0


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection_error"
    AUTHENTICATION = "authentication"
    REQUEST_REFUSED = "request_refused"
    CONTENT_FILTER = "content_filter"
    REFUSAL = "refusal"
    LENGTH = "length"
    MALFORMED = "malformed"
    EMPTY = "empty"
    CHECKS = "checks"
    CLIENT = "client_error"


#: Failures the model caused with its answer: the retry tells it what was wrong.
_ANSWER_FAILURES = {
    FailureKind.CONTENT_FILTER,
    FailureKind.REFUSAL,
    FailureKind.LENGTH,
    FailureKind.MALFORMED,
    FailureKind.EMPTY,
    FailureKind.CHECKS,
}
#: Failures a second attempt cannot fix (a wrong deployment or request).
_FINAL_FAILURES = {FailureKind.REQUEST_REFUSED, FailureKind.CLIENT}
#: Failures of the service itself (not of the answer): they make the readiness check degraded.
_SERVICE_FAILURES = {
    FailureKind.TIMEOUT,
    FailureKind.RATE_LIMITED,
    FailureKind.SERVER_ERROR,
    FailureKind.CONNECTION,
    FailureKind.AUTHENTICATION,
    FailureKind.REQUEST_REFUSED,
    FailureKind.CLIENT,
}


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    detail: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class AiFailure(Exception):
    def __init__(self, failure: Failure):
        super().__init__(str(failure))
        self.failure = failure


@dataclass
class Generated(Generic[T]):
    """What `generate` ends with: the accepted value (or None) and how it went."""

    value: T | None
    failures: list[Failure] = field(default_factory=list)
    attempts: int = 0
    latency_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.value is not None


def generate(
    messages: Sequence[Message],
    schema: type[T],
    check: Check,
    *,
    config: AiConfig,
    max_tokens: int,
    temperature: float = 0.4,
) -> Generated[T]:
    """Ask for `schema`, run `check` on the parsed answer (a list of problems, empty when
    accepted); at most two attempts within `config.budget_seconds`. AI must be enabled."""
    started = time.monotonic()
    deadline = started + config.budget_seconds
    least = min(MIN_ATTEMPT_SECONDS, config.timeout / 2)
    result: Generated[T] = Generated(value=None)
    conversation = list(messages)
    while result.attempts < 2:
        remaining = deadline - time.monotonic()
        if result.attempts and remaining < least:
            break
        result.attempts += 1
        raw = ""
        try:
            value, raw = complete(
                conversation,
                schema,
                config=config,
                timeout=min(config.timeout, remaining),
                max_tokens=max_tokens,
                temperature=temperature,
            )
            problems = check(value)
            if not problems:
                result.value = value
                break
            failure = Failure(FailureKind.CHECKS, "; ".join(problems))
        except AiFailure as exc:
            failure = exc.failure
        except Exception as exc:  # never fail the caller: the template serves
            # E.g. the credential could not get a token, or the key vanished from the vault.
            log.exception("ai_attempt_error", attempt=result.attempts)
            ai_client.record_call(ok=False, kind=FailureKind.CLIENT.value)
            failure = Failure(FailureKind.CLIENT, f"unexpected {type(exc).__name__}")
        result.failures.append(failure)
        log.warning("ai_attempt_failed", attempt=result.attempts, kind=str(failure.kind))
        if not _retry_worthwhile(failure, deadline, least):
            break
        conversation = _retry_conversation(messages, failure, raw)
    result.latency_ms = round((time.monotonic() - started) * 1000)
    return result


def _retry_worthwhile(failure: Failure, deadline: float, least: float) -> bool:
    if failure.kind in _FINAL_FAILURES:
        return False
    if failure.kind is FailureKind.AUTHENTICATION:
        ai_client.forget_key()  # a rotated key: the retry reads the current one
    if failure.kind is FailureKind.RATE_LIMITED:
        wait = failure.retry_after if failure.retry_after is not None else 1.0
        if wait > MAX_RETRY_AFTER_SECONDS or wait + least > deadline - time.monotonic():
            return False
        time.sleep(wait)
    return deadline - time.monotonic() >= least


def _retry_conversation(messages: Sequence[Message], failure: Failure, raw: str) -> list[Message]:
    """The second attempt: the same request, plus (when the answer was at fault) the refused
    answer and the reason, so the model can correct it."""
    if failure.kind not in _ANSWER_FAILURES:
        return list(messages)
    retry = [*messages]
    if raw:
        retry.append({"role": "assistant", "content": raw})
    retry.append(
        {
            "role": "user",
            "content": (
                "이전 답변은 다음 이유로 사용할 수 없습니다: "
                f"{failure.detail[:1500]}\n"
                "모든 규칙을 지켜 스키마에 맞는 JSON으로 다시 답하세요."
            ),
        }
    )
    return retry


# -- one call --------------------------------------------------------------------------------


def complete(
    messages: Sequence[Message],
    schema: type[T],
    *,
    config: AiConfig,
    timeout: float,
    max_tokens: int,
    temperature: float,
) -> tuple[T, str]:
    """One chat completion parsed into `schema`: (value, raw JSON text); AiFailure otherwise."""
    import openai

    try:
        completion = ai_client.get_ai_client().chat.completions.parse(
            model=config.deployment,
            messages=list(messages),
            response_format=schema,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
        )
    except (openai.OpenAIError, ValidationError, json.JSONDecodeError) as exc:
        raise _failure_of(exc, timeout) from None
    ai_client.record_call(ok=True)
    choice = completion.choices[0]
    message = choice.message
    if message.refusal:
        raise AiFailure(Failure(FailureKind.REFUSAL, "the model declined to answer"))
    if choice.finish_reason == "content_filter":
        raise AiFailure(Failure(FailureKind.CONTENT_FILTER, "the answer was filtered"))
    if message.parsed is None:
        raise AiFailure(Failure(FailureKind.EMPTY, "the answer had no content"))
    return message.parsed, message.content or ""


#: The SDK's errors for an answer that stopped early (finish_reason content_filter or length).
_STOPPED_ANSWERS = {
    "ContentFilterFinishReasonError": (FailureKind.CONTENT_FILTER, "the answer was filtered"),
    "LengthFinishReasonError": (FailureKind.LENGTH, "the answer was cut off (too long)"),
}


def _failure_of(exc: Exception, timeout: float) -> AiFailure:
    """The typed failure of an exception raised by the SDK (or by parsing its answer)."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one too
        if isinstance(exc, openai.APITimeoutError):
            return _failed(FailureKind.TIMEOUT, f"no answer within {timeout:.1f} s")
        return _failed(FailureKind.CONNECTION, type(exc).__name__)
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc)
    stopped = _STOPPED_ANSWERS.get(type(exc).__name__)
    if stopped is not None:
        return _answer_failed(*stopped)
    if isinstance(exc, ValidationError | json.JSONDecodeError):
        return _answer_failed(FailureKind.MALFORMED, _schema_errors(exc))
    return _failed(FailureKind.CLIENT, type(exc).__name__)


def _status_failure(exc: Any) -> AiFailure:
    """An HTTP error answer (openai.APIStatusError)."""
    status = exc.status_code
    if status == 429:
        return _failed(FailureKind.RATE_LIMITED, "HTTP 429", retry_after=_retry_after(exc.response))
    if status == 401:
        return _failed(FailureKind.AUTHENTICATION, "HTTP 401")
    if status == 400 and _error_code(exc.body) == "content_filter":
        # Azure refuses a prompt its content filter flags with 400 and code content_filter.
        return _answer_failed(FailureKind.CONTENT_FILTER, "the prompt was filtered")
    if status >= 500:
        return _failed(FailureKind.SERVER_ERROR, f"HTTP {status}")
    if status in (403, 404):
        return _failed(FailureKind.REQUEST_REFUSED, f"HTTP {status}")
    return _failed(FailureKind.CLIENT, f"HTTP {status}")


def _failed(kind: FailureKind, detail: str, *, retry_after: float | None = None) -> AiFailure:
    """A failure of the service: counted against its readiness."""
    ai_client.record_call(ok=kind not in _SERVICE_FAILURES, kind=str(kind))
    return AiFailure(Failure(kind, detail, retry_after))


def _answer_failed(kind: FailureKind, detail: str) -> AiFailure:
    """The service answered; the answer is unusable."""
    ai_client.record_call(ok=True)
    return AiFailure(Failure(kind, detail))


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        try:
            return max(0.0, float(value) / scale) if value is not None else None
        except ValueError:
            continue
    return None


def _error_code(body: Any) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner.get("code")
    return None


def _schema_errors(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
            for e in exc.errors()[:5]
        ]
        return "the answer is not valid JSON for the schema (" + "; ".join(parts) + ")"
    return "the answer is not valid JSON"
