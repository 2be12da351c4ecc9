"""CORS for the Next.js frontend: exact origins from `CORS_ALLOWED_ORIGINS`, with credentials.

Never `*`: browsers refuse `*` together with credentials, and settings refuse to start with it.
"""

from __future__ import annotations

from shared.config import Settings
from shared.errors import ForbiddenError

ALLOWED_REQUEST_HEADERS = ("authorization", "content-type", "x-request-id", "if-none-match")
EXPOSED_HEADERS = "X-Request-ID, X-Client-Request-ID, ETag, Retry-After, Location"
PREFLIGHT_MAX_AGE_SECONDS = 600


def _normalise(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def is_allowed(settings: Settings, origin: str | None) -> bool:
    if not origin:
        return False
    return _normalise(origin) in {_normalise(o) for o in settings.cors_allowed_origins}


def response_headers(settings: Settings, origin: str | None) -> dict[str, str]:
    """Headers for an actual (non-preflight) response; empty for a foreign origin."""
    if not is_allowed(settings, origin):
        return {"Vary": "Origin"} if origin else {}
    assert origin is not None
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def preflight_headers(
    settings: Settings,
    origin: str | None,
    requested_method: str,
    requested_headers: str | None,
    served_methods: set[str],
) -> dict[str, str]:
    """Headers answering a preflight; ForbiddenError when the browser must refuse the call."""
    if not is_allowed(settings, origin):
        raise ForbiddenError("This origin may not call the API.")
    if requested_method.upper() not in served_methods:
        raise ForbiddenError(f"{requested_method.upper()} is not served at this path.")
    asked = [h.strip().lower() for h in (requested_headers or "").split(",") if h.strip()]
    refused = [h for h in asked if h not in ALLOWED_REQUEST_HEADERS]
    if refused:
        raise ForbiddenError(f"Request headers not allowed: {', '.join(refused)}.")
    return {
        **response_headers(settings, origin),
        "Access-Control-Allow-Methods": ", ".join(sorted(served_methods | {"OPTIONS"})),
        "Access-Control-Allow-Headers": ", ".join(ALLOWED_REQUEST_HEADERS),
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }
