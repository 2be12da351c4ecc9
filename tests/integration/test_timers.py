"""Timer functions, run the two ways an operator can: `manage.py run-timer` and the served app's
admin API (`POST /admin/functions/{name}`, as Core Tools has it)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.manage_cli import logged_events, run_manage, service_env

pytestmark = pytest.mark.integration

CLOSED_PORT_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/x"


def _wait_for_event(app, event: str, timeout: float = 10.0) -> dict[str, Any]:
    """The first log record named `event` the served app wrote (log lines may trail the reply)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in logged_events(app.logs()) if e.get("event") == event]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event} in the app's logs:\n{app.logs()[-3000:]}")
        time.sleep(0.1)


def test_run_timer_runs_health_check(database_url: str, azurite) -> None:
    result = run_manage("run-timer", "health_check", env=service_env(database_url, azurite))

    assert result.returncode == 0, result.stderr
    assert "health_check finished" in result.stdout
    [completed] = [
        e for e in logged_events(result.stderr) if e.get("event") == "health_check_completed"
    ]
    assert completed["function"] == "health_check"
    assert not {"database", "blob_storage"} & set(completed["failing"])


def test_run_timer_unknown_name_lists_the_timers(database_url: str, azurite) -> None:
    result = run_manage("run-timer", "nope", env=service_env(database_url, azurite))

    assert result.returncode != 0
    assert "nope" in result.stderr
    assert "health_check" in result.stderr
    assert "finished" not in result.stdout


def test_admin_api_runs_health_check(start_app_server) -> None:
    app = start_app_server()

    response = app.request("POST", "admin/functions/health_check", json={"input": ""})

    assert response.status_code == 202
    completed = _wait_for_event(app, "health_check_completed")
    assert completed["function"] == "health_check"
    assert completed["status"] in {"healthy", "degraded"}
    assert not {"database", "blob_storage"} & set(completed["failing"])


def test_health_check_logs_an_error_when_the_database_is_down(start_app_server) -> None:
    app = start_app_server(DATABASE_URL=CLOSED_PORT_DATABASE_URL)

    response = app.request("POST", "admin/functions/health_check", json={"input": ""})

    assert response.status_code == 202
    completed = _wait_for_event(app, "health_check_completed")
    assert completed["level"] == "error"
    assert completed["status"] == "unhealthy"
    assert "database" in completed["failing"]
    assert completed["failing"]["database"]["status"] == "down"


def test_run_timer_refreshes_the_matching_model(database_url: str, azurite) -> None:
    """With no model published, the refresh still finishes and reports the rule fallback."""
    env = service_env(database_url, azurite, XGBOOST_MODEL_PATH="refresh-test/matching")
    result = run_manage("run-timer", "model_refresh", env=env)

    assert result.returncode == 0, result.stderr
    [completed] = [
        e for e in logged_events(result.stderr) if e.get("event") == "model_refresh_completed"
    ]
    assert completed["function"] == "model_refresh"
    assert completed["kind"] == "rules"
    assert completed["duration_ms"] >= 0
