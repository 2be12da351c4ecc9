"""What the log alerts rely on (infra/core/monitor/alerts.bicep): an app event reaches Application
Insights' `traces` with `message` holding the JSON of the event's fields.

`enable_azure_monitor` is run with `configure_azure_monitor` captured; the handler the distro
would attach to the app's logger is then built as the distro builds it (OpenTelemetry's logging
handler, with the formatter we pass), and the message is what the Azure Monitor exporter writes
into the trace it sends. The alert queries read `event`, `status`, `kind` and `rto_seconds` from
`parse_json(message)`: without the formatter the message is a Python repr that parse_json cannot
read, and the alerts would go quiet (or fire for ever) in Azure.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.monitor.opentelemetry.exporter.export.logs._exporter import _map_body_to_message
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from shared.config import load_settings
from shared.observability import LOGGER_NAME, enable_azure_monitor, get_logger

ALERTS = Path(__file__).resolve().parents[2] / "infra" / "core" / "monitor" / "alerts.bicep"
FAKE_CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/"
)


def distro_arguments(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What enable_azure_monitor hands configure_azure_monitor (nothing is exported)."""
    import azure.monitor.opentelemetry as distro

    captured: dict[str, Any] = {}
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kw: captured.update(kw))
    app_logger = logging.getLogger(LOGGER_NAME)
    monkeypatch.setattr(app_logger, "propagate", app_logger.propagate)  # restored afterwards
    enable_azure_monitor(
        load_settings(applicationinsights_connection_string=FAKE_CONNECTION_STRING)
    )
    return captured


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryLogRecordExporter]:
    arguments = distro_arguments(monkeypatch)
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    # As azure.monitor.opentelemetry attaches it to `logger_name`.
    handler = LoggingHandler(logger_provider=provider)
    if arguments.get("logging_formatter"):
        handler.setFormatter(arguments["logging_formatter"])
    app_logger = logging.getLogger(arguments["logger_name"])
    level = app_logger.level
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    try:
        yield exporter
    finally:
        app_logger.removeHandler(handler)
        app_logger.setLevel(level)
        provider.shutdown()


def trace_messages(exporter: InMemoryLogRecordExporter) -> list[dict[str, Any]]:
    """Each exported record's `message`, as Application Insights stores it, parsed as JSON."""
    messages = [_map_body_to_message(r.log_record.body) for r in exporter.get_finished_logs()]
    return [json.loads(message) for message in messages]


def fields_the_alerts_read() -> set[str]:
    text = ALERTS.read_text(encoding="utf-8")
    event_fields = re.search(r"var eventFields = '([^']*)'", text)
    assert event_fields is not None
    return set(re.findall(r"\be\.(\w+)", event_fields.group(1)))


def test_an_event_reaches_traces_as_the_json_of_its_fields(
    exported: InMemoryLogRecordExporter,
) -> None:
    get_logger("timers").info(
        "incremental_backup_completed",
        status="succeeded",
        kind="incremental",
        backup_id="incr-20261204T150000Z-abc123",
        error=None,
        duration_ms=812.5,
    )
    get_logger("backup.drill").error(
        "restore_drill_completed", status="failed", rto_seconds=4000.0, error="checksum"
    )

    backup, drill = trace_messages(exported)

    assert fields_the_alerts_read() == {"event", "status", "kind", "rto_seconds"}
    assert backup["event"] == "incremental_backup_completed"
    assert (backup["status"], backup["kind"]) == ("succeeded", "incremental")
    assert drill["event"] == "restore_drill_completed"
    assert (drill["status"], drill["rto_seconds"]) == ("failed", 4000.0)
