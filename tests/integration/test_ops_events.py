"""Operations events survive production's LOG_LEVEL=WARNING, and the figures alerts read are
emitted as metrics: the timers run as the Functions host runs them (`manage.py run-timer`), in
the production profile."""

from __future__ import annotations

import pytest

from shared.observability import LOGGER_NAME, OPS_LOGGER_NAMESPACES, OPS_METRICS
from tests.fresh_interpreter import run_fresh
from tests.manage_cli import logged_events, run_manage, service_env

pytestmark = pytest.mark.integration

PRODUCTION = {
    "APP_ENV": "production",
    "JWT_SECRET": "a-real-production-secret-of-forty-chars-x",
    "BACKUP_SIGNING_KEY": "a-real-backup-signing-key-of-forty-chars",
    "ALLOWED_HOSTS": "api.neulbomcare.example",
    "CORS_ALLOWED_ORIGINS": "https://neulbomcare.com",
}
OPS_PREFIXES = tuple(f"{LOGGER_NAME}.{namespace}" for namespace in OPS_LOGGER_NAMESPACES)


def run_timer(name: str, env: dict[str, str]) -> list[dict]:
    result = run_manage("run-timer", name, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return logged_events(result.stderr)


def the(records: list[dict], event: str) -> dict:
    [record] = [r for r in records if r.get("event") == event]
    return record


def metrics_of(records: list[dict]) -> dict[str, float]:
    return {r["name"]: r["value"] for r in records if r.get("event") == "metric"}


@pytest.fixture
def production_env(migrated_database_url, azurite, backup_container) -> dict[str, str]:
    return service_env(
        migrated_database_url,
        azurite,
        BACKUP_CONTAINER=backup_container.container_name,
        **PRODUCTION,
    )


def test_production_writes_the_operations_events_and_their_metrics(production_env):
    env = production_env
    assert env["APP_ENV"] == "production"
    assert "LOG_LEVEL" not in env  # WARNING, the production profile's

    nightly = run_timer("nightly_backup", env)
    done = the(nightly, "nightly_backup_completed")
    assert (done["level"], done["status"], done["kind"]) == ("info", "succeeded", "full")
    assert the(nightly, "timer_started")["level"] == "info"

    incremental = run_timer("incremental_backup", env)
    assert the(incremental, "incremental_backup_completed")["status"] == "succeeded"

    drill = run_timer("restore_drill", env)
    finished = the(drill, "restore_drill_finished")
    assert finished["status"] == "succeeded"
    drill_metrics = metrics_of(drill)
    assert drill_metrics["restore_drill_ok"] == 1.0
    assert drill_metrics["restore_drill_rto_seconds"] == pytest.approx(finished["rto_seconds"])

    health = run_timer("health_check", env)
    assert the(health, "health_check_completed")["level"] == "info"
    figures = metrics_of(health)
    assert 0 <= figures["backup_full_age_seconds"] < 600
    assert 0 <= figures["backup_incremental_age_seconds"] <= figures["backup_full_age_seconds"]
    assert figures["restore_drill_ok"] == 1.0
    assert set(figures) == set(OPS_METRICS)

    maintenance = run_timer("db_maintenance", env)
    assert the(maintenance, "db_maintenance_finished")["status"] == "succeeded"

    # LOG_LEVEL=WARNING still holds for everything else: only operations loggers wrote INFO.
    records = nightly + incremental + drill + health + maintenance
    quiet = [r for r in records if r["level"] in ("debug", "info")]
    assert quiet
    assert all(r["logger"].startswith(OPS_PREFIXES) for r in quiet), {r["logger"] for r in quiet}


def test_the_metrics_are_opentelemetry_gauges_for_azure_monitor(production_env):
    """The same figures reach the OpenTelemetry meter provider (the one Azure Monitor installs
    when APPLICATIONINSIGHTS_CONNECTION_STRING is set), here an in-memory reader's."""
    run_timer("nightly_backup", production_env)
    run_timer("incremental_backup", production_env)
    settings = {
        name: production_env[name]
        for name in ("DATABASE_URL", "AZURE_STORAGE_CONNECTION_STRING", "BACKUP_CONTAINER")
    }
    gauges = run_fresh(
        """
        import json
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

        from devtools.functions_host import FunctionsHost
        from function_app import app

        FunctionsHost(app).run_timer("health_check")
        found = {}
        for resource in reader.get_metrics_data().resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    point = list(metric.data.data_points)[-1]
                    found[metric.name] = [scope.scope.name, metric.unit, point.value]
        print(json.dumps(found))
        """,
        timeout=120,
        **PRODUCTION,
        **settings,
    )
    assert gauges["backup_full_age_seconds"][:2] == ["neulbomcare.ops", "s"]
    assert 0 <= gauges["backup_full_age_seconds"][2] < 600
    assert 0 <= gauges["backup_incremental_age_seconds"][2] < 600
    assert "restore_drill_ok" not in gauges  # no drill yet: nothing invented
