"""Running `manage.py` as operators do: a subprocess from the repository root, with a clean
environment so a setting left in the developer's shell cannot change a test's outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared.config import Settings, env_name

REPO_ROOT = Path(__file__).resolve().parents[1]


def logged_events(text: str, name: str | None = None) -> list[dict[str, Any]]:
    """The JSON log records in a command's or served app's output (other lines skipped), only
    those whose `event` is `name` when one is given."""
    events = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (name is None or record.get("event") == name):
            events.append(record)
    return events


def manage_env(**settings: str) -> dict[str, str]:
    """This process's environment without any app setting, plus `settings`.

    Tests set every setting a command depends on; a value left in the environment by the
    developer's shell (APP_ENV, JWT_SECRET, ...) must not change the outcome.
    """
    setting_names = {env_name(field).lower() for field in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in setting_names}
    return {**env, "LOCAL_SETTINGS_PATH": os.devnull, "PYTHONUNBUFFERED": "1", **settings}


def run_manage(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python manage.py ARGS` from the repository root and capture what it prints."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def service_env(database_url: str, azurite, **settings: str) -> dict[str, str]:
    """Environment pointing a command at the test database and Azurite."""
    return manage_env(
        DATABASE_URL=database_url,
        AZURE_STORAGE_CONNECTION_STRING=azurite.connection_string,
        **settings,
    )
