"""The real Function App under the local host as `manage.py serve` runs it: local.settings.json
exported as Core Tools does, an app the host cannot index refused, several instances at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.app_server import start_app
from tests.fixtures.instances import Instances
from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.integration


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {name: value for name, value in env.items() if name not in names}


def test_local_settings_values_reach_the_host_and_the_app(
    base_app_env: dict[str, str], tmp_path: Path
) -> None:
    local = tmp_path / "local.settings.json"
    local.write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {"BACKUP_SCHEDULE": "0 30 17 * * *", "LOG_LEVEL": "ERROR"},
            }
        ),
        encoding="utf-8",
    )
    env = {**without(base_app_env, "BACKUP_SCHEDULE"), "LOCAL_SETTINGS_PATH": str(local)}
    app = start_app(env, tmp_path / "serve.log")
    try:
        listed = {entry["name"]: entry for entry in app.get("admin/functions").json()}
        # %BACKUP_SCHEDULE% resolved from the exported file, as the host resolves app settings.
        assert listed["nightly_backup"]["schedule"] == "0 30 17 * * *"
        assert app.request("HEAD", "health").status_code == 200
    finally:
        app.stop()

    # A real environment variable wins over the file (LOG_LEVEL is INFO in base_app_env).
    shown = run_manage("check-config", env=manage_env(**env))
    assert shown.returncode == 0, shown.stderr
    assert "backup_schedule                          0 30 17 * * *" in shown.stdout
    assert "log_level                                INFO" in shown.stdout


def test_serve_refuses_an_app_whose_timer_schedule_does_not_resolve(
    base_app_env: dict[str, str],
) -> None:
    result = run_manage(
        "serve", "--port", "0", env=manage_env(**without(base_app_env, "BACKUP_SCHEDULE"))
    )
    assert result.returncode == 1
    assert "nightly_backup" in result.stderr
    assert "'%BACKUP_SCHEDULE%' does not resolve" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_local_settings_file_stops_the_command_with_its_reason(tmp_path: Path) -> None:
    local = tmp_path / "local.settings.json"
    local.write_text("{not json", encoding="utf-8")
    result = run_manage("check-config", env=manage_env(LOCAL_SETTINGS_PATH=str(local)))
    assert result.returncode == 1
    assert "local.settings.json is not valid JSON" in result.stderr


def test_two_instances_of_the_app_serve_and_one_survives_the_others_kill(
    start_instances: Callable[..., Instances],
) -> None:
    instances = start_instances(2)
    for app in instances.apps:
        assert app.request("HEAD", "health").status_code == 200
    instances.kill(0)
    assert instances.running() == [instances[1]]
    assert instances[1].request("HEAD", "health").status_code == 200
    assert instances[1].get("health/ready").status_code == 200
