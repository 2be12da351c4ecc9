"""local.settings.json, exported into the process environment as Core Tools does.

``func start`` reads the ``Values`` of local.settings.json and sets each as an environment
variable of the worker process, unless that variable is already set (a real environment variable
wins). The app then sees only environment variables, exactly as in Azure, where app settings
arrive that way: SDKs, ``%NAME%`` binding expressions and shared.config all read the same thing.

``LOCAL_SETTINGS_PATH`` names another file (tests set it to /dev/null: nothing is exported).
A file marked ``"IsEncrypted": true`` is refused: only Core Tools can decrypt it.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The checked-in example: every setting with a working local value (`manage.py dev` falls back
#: on it for what neither the environment nor local.settings.json sets).
EXAMPLE_PATH = PROJECT_ROOT / "local.settings.json.example"


class LocalSettingsError(ValueError):
    """local.settings.json cannot be read; the message says why."""


def local_settings_path(environ: MutableMapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("LOCAL_SETTINGS_PATH") or PROJECT_ROOT / "local.settings.json")


def read_local_settings(path: Path) -> dict[str, str]:
    """The file's ``Values`` as strings; {} when the file does not exist or is empty."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocalSettingsError(f"{path.name} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise LocalSettingsError(f"{path.name} must hold a JSON object")
    if document.get("IsEncrypted") is True:
        raise LocalSettingsError(
            f"{path.name} is encrypted (IsEncrypted: true); only Core Tools can decrypt it. "
            "Decrypt it with `func settings decrypt` or write the values in plain text."
        )
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise LocalSettingsError(f'{path.name}: "Values" must be an object of settings')
    exported: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            exported[str(name)] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            exported[str(name)] = str(value)
        elif value is not None:
            raise LocalSettingsError(
                f"{path.name}: the value of {name!r} must be a string, not {type(value).__name__}"
            )
    return exported


def export_local_settings(
    path: Path | None = None, environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Set every ``Values`` entry of ``path`` (default: LOCAL_SETTINGS_PATH or the project's
    local.settings.json) not already in the environment; return the names set."""
    env = os.environ if environ is None else environ
    present = {name.lower() for name in env}
    exported = []
    source = path if path is not None else local_settings_path(env)
    for name, value in read_local_settings(source).items():
        if name.lower() not in present:
            env[name] = value
            exported.append(name)
    return exported
