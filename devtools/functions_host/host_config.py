"""host.json as the Functions host reads it, with app-setting overrides.

The real host binds host.json into its options, and lets an app setting override any value:
``AzureFunctionsJobHost__extensions__queues__batchSize=4`` wins over
``{"extensions": {"queues": {"batchSize": 16}}}`` (``__`` separates the path, names are
case-insensitive). This module does the same for the values the local host honours:

- ``extensions.http.routePrefix`` (default ``api``, as in the real host; this project sets "");
- ``functionTimeout`` (``hh:mm:ss``; ``-1`` or null: no limit; default 30 minutes, the Flex
  Consumption default);
- ``extensions.queues``: ``batchSize`` (1-32, default 16), ``newBatchThreshold`` (default
  ``batchSize // 2``: one vCPU, as on a Consumption instance), ``maxDequeueCount`` (default 5),
  ``visibilityTimeout`` (how long a FAILED message stays invisible before its retry, default 0),
  ``maxPollingInterval`` (default 1 minute, at least 100 ms) and ``messageEncoding``
  (``base64``, the default, or ``none``).

Values are TimeSpan strings as .NET parses them (``00:00:30``, ``1.00:00:00``, ``00:00:00.5``).
A malformed value fails start-up with a message naming it, as the real host does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

OVERRIDE_PREFIX = "AzureFunctionsJobHost__"
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0

#: d.hh:mm:ss.fffffff, with the day and fraction optional (TimeSpan's invariant "c" format).
_TIMESPAN = re.compile(
    r"^(?P<sign>-)?(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2})"
    r"(?::(?P<s>\d{1,2})(?:\.(?P<f>\d{1,7}))?)?$"
)
_MIN_POLLING_INTERVAL = 0.1


class HostConfigError(ValueError):
    """host.json (or an override) holds a value the host cannot start with."""


@dataclass(frozen=True)
class QueueOptions:
    """extensions.queues, in seconds where the real host has TimeSpans."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"

    @property
    def max_in_flight(self) -> int:
        """Messages processed at once at most: the threshold plus one batch."""
        return self.new_batch_threshold + self.batch_size


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT  # None: no limit
    queues: QueueOptions = QueueOptions()


def parse_timespan(value: Any, what: str) -> float:
    """Seconds in a .NET TimeSpan string such as ``00:05:00`` or ``1.02:00:00.5``."""
    match = _TIMESPAN.match(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise HostConfigError(f"{what} must be a TimeSpan such as '00:05:00', not {value!r}")
    hours, minutes = int(match["h"]), int(match["m"])
    seconds = int(match["s"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise HostConfigError(f"{what}: {value!r} is out of range (hh 0-23, mm and ss 0-59)")
    total = (
        int(match["d"] or 0) * 86_400
        + hours * 3600
        + minutes * 60
        + seconds
        + int((match["f"] or "0").ljust(7, "0")) / 10_000_000
    )
    return -total if match["sign"] else total


def load_host_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> HostConfig:
    """Read host.json (``path``; default: the project's) and apply the app-setting overrides."""
    from devtools.functions_host.local_settings import PROJECT_ROOT

    source = Path(path) if path is not None else PROJECT_ROOT / "host.json"
    try:
        document = json.loads(source.read_text(encoding="utf-8")) if source.is_file() else {}
    except json.JSONDecodeError as exc:
        raise HostConfigError(f"{source.name} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise HostConfigError(f"{source.name} must hold a JSON object")
    merged = _apply_overrides(document, os.environ if environ is None else environ)
    return host_config_from(merged)


def host_config_from(document: Mapping[str, Any]) -> HostConfig:
    """Build the options from an already merged host.json document."""
    extensions = _section(document, "extensions")
    http = _section(extensions, "http")
    prefix = _get(http, "routePrefix")
    timeout = _function_timeout(_get(document, "functionTimeout", _MISSING))
    return HostConfig(
        route_prefix="api" if prefix is None else str(prefix).strip("/"),
        function_timeout=timeout,
        queues=_queue_options(_section(extensions, "queues")),
    )


_MISSING = object()


def _function_timeout(value: Any) -> float | None:
    if value is _MISSING:
        return DEFAULT_FUNCTION_TIMEOUT
    if value is None or str(value).strip() in {"-1", ""}:
        return None
    seconds = parse_timespan(value, "functionTimeout")
    if seconds <= 0:
        raise HostConfigError(f"functionTimeout must be positive (or -1: none), not {value!r}")
    return seconds


def _queue_options(section: Mapping[str, Any]) -> QueueOptions:
    batch_size = _integer(section, "batchSize", 16, 1, 32)
    threshold = _integer(section, "newBatchThreshold", batch_size // 2, 0, 10_000)
    max_dequeue = _integer(section, "maxDequeueCount", 5, 1, 10_000)
    visibility = _get(section, "visibilityTimeout")
    polling = _get(section, "maxPollingInterval")
    encoding = str(_get(section, "messageEncoding") or "base64").strip().lower()
    if encoding not in {"base64", "none"}:
        raise HostConfigError(
            f"extensions.queues.messageEncoding must be 'base64' or 'none', not {encoding!r}"
        )
    options = QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=threshold,
        max_dequeue_count=max_dequeue,
        message_encoding=encoding,
    )
    if visibility is not None:
        seconds = parse_timespan(visibility, "extensions.queues.visibilityTimeout")
        if seconds < 0:
            raise HostConfigError("extensions.queues.visibilityTimeout must not be negative")
        options = replace(options, visibility_timeout=seconds)
    if polling is not None:
        seconds = parse_timespan(polling, "extensions.queues.maxPollingInterval")
        if seconds < _MIN_POLLING_INTERVAL:
            raise HostConfigError(
                "extensions.queues.maxPollingInterval must be at least 00:00:00.1 (100 ms)"
            )
        options = replace(options, max_polling_interval=seconds)
    return options


def _integer(section: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = _get(section, name)
    if value is None:
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise HostConfigError(f"extensions.queues.{name} must be a whole number") from None
    if not low <= number <= high:
        raise HostConfigError(f"extensions.queues.{name} must be within {low} and {high}")
    return number


def _apply_overrides(document: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Set ``AzureFunctionsJobHost__a__b__c`` values into a copy of the document at a.b.c."""
    merged: dict[str, Any] = json.loads(json.dumps(document))
    for key, value in sorted(environ.items()):
        if not key.lower().startswith(OVERRIDE_PREFIX.lower()):
            continue
        path = [part for part in key[len(OVERRIDE_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = merged
        for part in path[:-1]:
            existing = _find_key(node, part)
            child = node.get(existing) if existing is not None else None
            if not isinstance(child, dict):
                child = {}
                node[existing or part] = child
            node = child
        node[_find_key(node, path[-1]) or path[-1]] = value
    return merged


def _find_key(node: Mapping[str, Any], name: str) -> str | None:
    return next((key for key in node if key.lower() == name.lower()), None)


def _get(node: Mapping[str, Any], name: str, default: Any = None) -> Any:
    key = _find_key(node, name)
    return node[key] if key is not None else default


def _section(node: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = _get(node, name)
    return value if isinstance(value, dict) else {}
