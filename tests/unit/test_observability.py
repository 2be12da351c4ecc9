"""Logging set-up: JSON lines with context, and Azure Monitor only when configured."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.manage_cli import manage_env

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKE_CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
    "IngestionEndpoint=http://127.0.0.1:1/;LiveEndpoint=http://127.0.0.1:1/"
)

SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    from shared.config import get_settings
    from shared.observability import LOGGER_NAME, bind_context, configure_logging, get_logger
    configure_logging(get_settings())
    bind_context(request_id="req-1", function="probe")
    get_logger("probe").warning("probe_event", status=201)
    app_logger = logging.getLogger(LOGGER_NAME)
    print(json.dumps({
        "propagate": app_logger.propagate,
        "handlers": [type(h).__name__ for h in app_logger.handlers],
        "monitor_loaded": "azure.monitor.opentelemetry" in sys.modules,
    }))
    """
)


def run(**settings: str) -> tuple[dict, list[dict]]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        env=manage_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return json.loads(result.stdout.strip().splitlines()[-1]), lines


def test_logs_are_json_lines_with_request_context_and_no_azure_monitor_by_default():
    report, lines = run(APP_ENV="development")
    assert report["monitor_loaded"] is False
    assert report["propagate"] is True
    event = next(line for line in lines if line["event"] == "probe_event")
    assert event["request_id"] == "req-1"
    assert event["function"] == "probe"
    assert event["status"] == 201
    assert event["level"] == "warning"
    assert event["timestamp"].endswith("Z")


def test_azure_monitor_exports_our_logger_once_when_configured():
    report, _ = run(
        APP_ENV="development", APPLICATIONINSIGHTS_CONNECTION_STRING=FAKE_CONNECTION_STRING
    )
    assert report["monitor_loaded"] is True
    # Exported by OpenTelemetry, and no longer propagated to the root logger that the
    # Functions host forwards to Application Insights: each record leaves once.
    assert report["propagate"] is False
    assert "LoggingHandler" in report["handlers"]


def test_the_runbook_lists_every_operations_metric():
    """docs/operations.md ("Metrics and alerts") is where alert rules find the names."""
    from shared.observability import OPS_METRICS

    runbook = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = runbook[runbook.index("### Metrics and alerts") :]
    assert [name for name in OPS_METRICS if f"| `{name}` (" not in section] == []
