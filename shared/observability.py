"""Structured JSON logs (structlog), secret redaction, and Azure Monitor when configured.

Every log line is one JSON object carrying the request id and function name bound by the
HTTP adapter. Secrets never reach a log: every value the secrets provider hands out is
registered here and masked wherever it appears, and token- or password-shaped text is masked
by pattern as a second net.

Operations events (backups, restores, drills, maintenance, the model refresh, the health check
and the timers that run them: started, completed, failed) are logged by the operations loggers,
OPS_LOGGER_NAMESPACES: they keep INFO whatever `LOG_LEVEL` says (DEBUG when LOG_LEVEL is), so
production's WARNING still writes the events the runbook queries and alerts on. The figures
alerts need (backup ages, the restore drill's RTO and outcome) are also metrics (`emit_metric`):
an OpenTelemetry gauge (Application Insights `customMetrics` once Azure Monitor is configured)
and a `metric` event (`traces`), named in OPS_METRICS.

Double logging: under the Functions worker the host already ships the root logger's records to
Application Insights. When APPLICATIONINSIGHTS_CONNECTION_STRING is set we export our logger
through Azure Monitor OpenTelemetry instead and stop it propagating to the root logger, so each
record leaves the process once.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog

from shared.config import Settings

LOGGER_NAME = "neulbomcare"
#: The operations loggers (under LOGGER_NAME): their INFO events are kept in every environment.
#: `get_ops_logger` is "ops"; the others are the modules of the jobs the runbook watches (the
#: timers, the queue triggers and their jobs, backups, maintenance, the model refresh).
OPS_LOGGER_NAMESPACES = (
    "ops",
    "timers",
    "queues",
    "jobs",
    "backup",
    "operations",
    "matching.model",
)
OPS_LOG_LEVEL = logging.INFO
#: The meter of the operations metrics (OpenTelemetry instrumentation scope).
OPS_METER_NAME = f"{LOGGER_NAME}.ops"
REDACTED = "[REDACTED]"

#: Every operations metric: name -> (unit, description). docs/operations.md ("Metrics and
#: alerts") lists the same names; the alert rules read them.
OPS_METRICS: dict[str, tuple[str, str]] = {
    "backup_full_age_seconds": ("s", "age of the newest succeeded full backup's data"),
    "backup_incremental_age_seconds": ("s", "age of the newest succeeded incremental's data"),
    "restore_drill_rto_seconds": ("s", "the latest restore drill's measured RTO"),
    "restore_drill_ok": ("1", "1 when the latest restore drill succeeded, else 0"),
    "restore_drill_age_seconds": ("s", "time since the latest restore drill started"),
}

_secret_values: set[str] = set()
_secret_lock = threading.Lock()
_configured_lock = threading.Lock()
_configured = False

_SENSITIVE_KEYS = re.compile(r"pass(word)?|secret|token|authorization|api[_-]?key|cookie", re.I)
_PATTERNS = [
    # A token is long; "the bearer of this" is prose and stays as it is.
    (re.compile(r"(?i)\bBearer\s+[A-Za-z0-9\-_.~+/]{6,}=*"), f"Bearer {REDACTED}"),
    (
        re.compile(
            # After "_" too: api_key, client_secret, access_token, db_password.
            r"(?i)(?:\b|(?<=_))(password|pwd|secret|token|accountkey|sharedaccesskey"
            r"|sharedaccesssignature|sig|key|apikey)=([^;&\s]+)"
        ),
        rf"\1={REDACTED}",
    ),
    # user:password@ in URLs; bounded runs keep the scan linear on long lines.
    (re.compile(r"(://[^:/@\s]{1,256}):([^@\s/]{1,512})@"), rf"\1:{REDACTED}@"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),
]


def register_secret(value: str | None) -> None:
    """Mask this value in every log line from now on (the secrets provider calls this)."""
    if value and len(value) >= 6:
        with _secret_lock:
            _secret_values.add(value)


def redact_text(text: str) -> str:
    """`text` with every registered secret and token-shaped fragment masked."""
    if not text:
        return text
    with _secret_lock:
        secrets = sorted(_secret_values, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED if _SENSITIVE_KEYS.search(key) and value else redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every field, including rendered exceptions."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
    redact_processor,
]


def _route_structlog_through_stdlib() -> None:
    """Until configure_logging runs, send structlog events to stdlib logging (whose defaults
    drop DEBUG/INFO and print warnings to stderr) instead of structlog's default stdout printer,
    so command output such as `alembic current` stays clean."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


_route_structlog_through_stdlib()


def configure_logging(settings: Settings) -> None:
    """Configure logging once per process; later calls are no-ops."""
    global _configured  # noqa: PLW0603 - process-wide logging state is configured once
    with _configured_lock:
        if _configured:
            return
        level = getattr(logging, settings.log_level)
        app_logger = logging.getLogger(LOGGER_NAME)
        app_logger.setLevel(level)
        for namespace in OPS_LOGGER_NAMESPACES:
            logging.getLogger(f"{LOGGER_NAME}.{namespace}").setLevel(min(level, OPS_LOG_LEVEL))
        if "azure_functions_worker" not in sys.modules:
            # Outside the Functions worker nobody collects logs for us: write JSON to stderr.
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(json_formatter())
            root = logging.getLogger()
            root.handlers = [handler]
            root.setLevel(logging.WARNING)
            app_logger.setLevel(level)
        # The Azure SDKs log request headers at INFO; keep them quiet.
        logging.getLogger("azure").setLevel(logging.WARNING)
        if settings.applicationinsights_connection_string is not None:
            enable_azure_monitor(settings)
        _configured = True


def json_formatter() -> logging.Formatter:
    """A stdlib formatter that renders both structlog and plain records as redacted JSON."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
        ],
    )


def enable_azure_monitor(settings: Settings) -> None:
    """Export traces, metrics and our logs to Application Insights, each record once."""
    from azure.monitor.opentelemetry import configure_azure_monitor  # heavy: import on demand

    assert settings.applicationinsights_connection_string is not None
    configure_azure_monitor(
        connection_string=settings.applicationinsights_connection_string.get_secret_value(),
        logger_name=LOGGER_NAME,
        # Without a formatter the handler sends str() of structlog's event dict (a Python repr):
        # the JSON makes `traces.message` readable by parse_json, as the alert rules read it.
        logging_formatter=json_formatter(),
    )
    # The host forwards root-logger records to Application Insights too; don't send twice.
    logging.getLogger(LOGGER_NAME).propagate = False


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger under the app's namespace (usable before configuration)."""
    suffix = f".{name}" if name else ""
    return structlog.stdlib.get_logger(f"{LOGGER_NAME}{suffix}")


def get_ops_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A logger under `neulbomcare.ops`, an operations logger (OPS_LOGGER_NAMESPACES): its INFO
    events survive production's LOG_LEVEL=WARNING. For operations events of modules outside
    those namespaces."""
    return get_logger(f"ops.{name}" if name else "ops")


_gauges: dict[str, Any] = {}
_gauges_lock = threading.Lock()


def emit_metric(name: str, value: float, **attributes: str) -> None:
    """Record one operations figure (a name of OPS_METRICS) for dashboards and alerts.

    Twice, so an alert can use either: an OpenTelemetry gauge on the `neulbomcare.ops` meter
    (exported to Application Insights `customMetrics` once Azure Monitor is configured; a no-op
    before) and a `metric` event with `name` and `value` on the operations logger (`traces`).
    """
    unit, description = OPS_METRICS[name]
    with _gauges_lock:
        gauge = _gauges.get(name)
        if gauge is None:
            from opentelemetry import metrics  # light, but only timers and commands need it

            meter = metrics.get_meter(OPS_METER_NAME)
            gauge = _gauges[name] = meter.create_gauge(name, unit=unit, description=description)
    gauge.set(value, attributes=attributes or None)
    get_ops_logger("metrics").info("metric", name=name, value=value, unit=unit, **attributes)


def bind_context(**values: Any) -> None:
    """Attach values (request_id, function) to every log line of this request or job."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()
