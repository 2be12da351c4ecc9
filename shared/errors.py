"""The errors services raise, each mapped once to an HTTP problem by the adapter.

Services never build HTTP responses; they raise one of these and the HTTP adapter
(`shared.http`) turns it into `application/problem+json` with the `code` of API.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One field that failed validation: where it is and what is wrong with it."""

    loc: tuple[str | int, ...]
    msg: str

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg}


class AppError(Exception):
    """Base of every error a caller is meant to see; `detail` is safe to show to the caller."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = dict(headers or {})


class BadRequestError(AppError):
    status, code, title = 400, "bad_request", "Bad Request"


class ValidationFailedError(AppError):
    status, code, title = 422, "validation_error", "Validation Failed"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None):
        names = ", ".join(".".join(str(part) for part in e.loc) for e in errors)
        super().__init__(detail or f"Invalid value for: {names}")
        self.errors = list(errors)


class UnauthorizedError(AppError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None):
        super().__init__(
            detail or "Authentication is required.", headers={"WWW-Authenticate": "Bearer"}
        )


class ForbiddenError(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFoundError(AppError):
    status, code, title = 404, "not_found", "Not Found"


class MethodNotAllowedError(AppError):
    status, code, title = 405, "method_not_allowed", "Method Not Allowed"

    def __init__(self, detail: str, allowed: Iterable[str]):
        super().__init__(detail, headers={"Allow": ", ".join(sorted(set(allowed)))})


class ConflictError(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLargeError(AppError):
    status, code, title = 413, "payload_too_large", "Payload Too Large"


class RateLimitedError(AppError):
    status, code, title = 429, "rate_limited", "Too Many Requests"

    def __init__(self, detail: str | None = None, *, retry_after: int):
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailableError(AppError):
    status, code, title = 503, "unavailable", "Service Unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5):
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class ConfigurationError(RuntimeError):
    """The app's configuration is unusable; raised at start-up, never shown to API callers."""


def body_field_error(name: str, message: str) -> ValidationFailedError:
    """A 422 naming one field of the request body (a rule pydantic could not check alone)."""
    return ValidationFailedError([FieldError(loc=("body", name), msg=message)])
