"""Test-wide set-up: fixtures from the plugin modules, and isolation from a developer's machine.

Tests never read a developer's local.settings.json, and every process-wide singleton (settings,
secrets, database pool, Blob client) is rebuilt for each test that touches them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.azurite",
    "tests.fixtures.key_vault",
    "tests.fixtures.app_server",
    "tests.fixtures.parties",
    "tests.fixtures.backup",
    "tests.fixtures.azure_openai",
    "tests.fixtures.instances",
    "tests.fixtures.notifications",
]

# Before anything imports shared.config: tests set every setting they depend on themselves.
os.environ["LOCAL_SETTINGS_PATH"] = os.devnull
for _name in ("APP_ENV", "DATABASE_URL", "KEY_VAULT_URL", "APPLICATIONINSIGHTS_CONNECTION_STRING"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def fresh_singletons() -> Iterator[None]:
    """Forget cached settings, secrets, pool, Blob client and matching model around every test."""
    from shared.auth.tokens import reset_key_refresh
    from shared.config import reset_settings
    from shared.db import reset_database
    from shared.jobs.queue import reset_queue_service
    from shared.matching.model_registry import reset_model_registry
    from shared.secrets import reset_secrets
    from shared.storage import reset_blob_service

    def reset() -> None:
        reset_key_refresh()
        reset_model_registry()
        reset_database()
        reset_blob_service()
        reset_queue_service()
        reset_secrets()
        reset_settings()

    reset()
    yield
    reset()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, database_url: str, azurite) -> dict[str, str]:
    """In-process environment pointing the app at the test database and Azurite."""
    values = {
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "LOG_LEVEL": "INFO",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
