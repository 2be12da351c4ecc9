"""local.settings.json exported into the environment as Core Tools does (existing variables win)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.functions_host.local_settings import (
    EXAMPLE_PATH,
    LocalSettingsError,
    export_local_settings,
    read_local_settings,
)


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_values_are_exported_and_existing_variables_win(tmp_path: Path) -> None:
    path = write(
        tmp_path / "local.settings.json",
        {
            "IsEncrypted": False,
            "Values": {"LOG_LEVEL": "ERROR", "BACKUP_RETENTION_DAYS": 40, "FLAG": True},
            "Host": {"LocalHttpPort": 7071},
        },
    )
    environ = {"LOCAL_SETTINGS_PATH": str(path), "LOG_LEVEL": "WARNING"}
    exported = export_local_settings(environ=environ)
    assert sorted(exported) == ["BACKUP_RETENTION_DAYS", "FLAG"]
    assert environ["LOG_LEVEL"] == "WARNING"  # the real environment variable wins
    assert environ["BACKUP_RETENTION_DAYS"] == "40"  # numbers arrive as text, as app settings do
    assert environ["FLAG"] == "true"
    assert "LocalHttpPort" not in environ  # only Values are app settings


def test_settings_in_the_environment_see_the_exported_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import AppEnv, load_settings

    path = write(
        tmp_path / "local.settings.json",
        {"Values": {"APP_ENV": "staging", "ALLOWED_HOSTS": "api.example", "LOG_LEVEL": "ERROR"}},
    )
    environ: dict[str, str] = {"LOCAL_SETTINGS_PATH": str(path)}
    export_local_settings(environ=environ)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.app_env is AppEnv.STAGING  # the exported file chose the profile
    assert settings.log_level == "ERROR"


def test_no_file_or_dev_null_exports_nothing(tmp_path: Path) -> None:
    environ = {"LOCAL_SETTINGS_PATH": "/dev/null"}
    assert export_local_settings(environ=environ) == []
    assert environ == {"LOCAL_SETTINGS_PATH": "/dev/null"}
    assert export_local_settings(tmp_path / "missing.json", environ={}) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"local\.settings\.json is not valid JSON"),
        ('{"IsEncrypted": true, "Values": {}}', "is encrypted"),
        ('{"Values": ["A"]}', "must be an object"),
        ('{"Values": {"A": {"nested": 1}}}', "'A' must be a string"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LocalSettingsError, match=message):
        read_local_settings(path)


def test_the_example_sets_what_the_host_needs_to_index_the_app() -> None:
    values = read_local_settings(EXAMPLE_PATH)
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert values["BACKUP_SCHEDULE"] == "0 0 18 * * *"
