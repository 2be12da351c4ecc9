"""Settings: profiles, precedence of sources, and the refusals that protect production."""

from __future__ import annotations

import json

import pytest

from devtools.functions_host.local_settings import read_local_settings
from shared.config import (
    DEVELOPMENT_BACKUP_SIGNING_KEY,
    DEVELOPMENT_JWT_SECRET,
    AppEnv,
    load_settings,
)
from shared.errors import ConfigurationError

KV_REFERENCE = "@Microsoft.KeyVault(VaultName=kv;SecretName=DatabaseURL)"
PRODUCTION_OK = {
    "APP_ENV": "production",
    "JWT_SECRET": "a-real-production-secret-of-forty-chars-x",
    "ALLOWED_HOSTS": "api.neulbomcare.example",
    "CORS_ALLOWED_ORIGINS": "https://app.neulbomcare.example",
}
STAGING_OK = {
    **PRODUCTION_OK,
    "APP_ENV": "staging",
    "ALLOWED_HOSTS": "staging-api.neulbomcare.example",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    def set_env(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_development_is_the_default_profile():
    settings = load_settings()
    assert settings.app_env is AppEnv.DEVELOPMENT
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
    assert settings.azure_openai_timeout == 30
    assert "http://localhost:3000" in settings.cors_allowed_origins


def test_staging_profile_has_no_development_secrets(env):
    env({"APP_ENV": "staging", "ALLOWED_HOSTS": "staging-api.neulbomcare.example"})
    settings = load_settings()
    assert settings.jwt_secret is None
    assert settings.backup_signing_key is None
    assert settings.database_url is None
    assert settings.log_level == "INFO"


def test_production_profile_defaults(env):
    env(PRODUCTION_OK)
    settings = load_settings()
    assert settings.is_production
    assert settings.azure_openai_timeout == 45
    assert settings.allowed_hosts == ["api.neulbomcare.example"]


def test_an_explicit_value_beats_the_profile(env):
    env({**PRODUCTION_OK, "AZURE_OPENAI_TIMEOUT": "20"})
    assert load_settings().azure_openai_timeout == 20


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"JWT_SECRET": DEVELOPMENT_JWT_SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"AZURE_OPENAI_API_KEY": KV_REFERENCE}, "AZURE_OPENAI_API_KEY"),
        ({"DATABASE_URL": KV_REFERENCE}, "DATABASE_URL"),
    ],
)
def test_production_refuses_unsafe_settings_naming_them(env, change, named):
    env({**PRODUCTION_OK, **change})
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert named in str(error.value)
    assert "production" in str(error.value)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"JWT_SECRET": DEVELOPMENT_JWT_SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"BACKUP_SIGNING_KEY": DEVELOPMENT_BACKUP_SIGNING_KEY}, "BACKUP_SIGNING_KEY"),
        ({"BACKUP_SIGNING_KEY": "short"}, "BACKUP_SIGNING_KEY"),
    ],
)
def test_staging_refuses_what_production_refuses(env, change, named):
    # Staging is reachable from outside too: the published development JWT secret would let
    # anyone sign an admin token there, and '*' hosts would answer any Host header.
    env({**STAGING_OK, **change})
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert named in str(error.value)
    assert "staging" in str(error.value)


def test_staging_starts_with_real_values(env):
    env(STAGING_OK)
    settings = load_settings()
    assert settings.is_deployed
    assert not settings.is_production
    assert settings.allowed_hosts == ["staging-api.neulbomcare.example"]


def test_production_refuses_the_development_backup_signing_key(env):
    env({**PRODUCTION_OK, "BACKUP_SIGNING_KEY": DEVELOPMENT_BACKUP_SIGNING_KEY})
    with pytest.raises(ConfigurationError, match="BACKUP_SIGNING_KEY"):
        load_settings()


def test_development_signs_backups_with_the_development_key():
    settings = load_settings()
    assert not settings.is_deployed
    assert settings.backup_signing_key is not None
    assert settings.backup_signing_key.get_secret_value() == DEVELOPMENT_BACKUP_SIGNING_KEY


def test_debug_is_not_a_setting_and_production_ignores_it(env):
    # DEBUG was only ever refused in production and did nothing anywhere: it was removed. Like
    # any unknown variable it is now ignored (LOG_LEVEL is what makes the logs verbose).
    env({**PRODUCTION_OK, "DEBUG": "true"})
    settings = load_settings()
    assert settings.is_production
    assert "debug" not in type(settings).model_fields


@pytest.mark.parametrize(
    "schedule", ["0 0 18 * * *", "0 */15 * * * *", "0 30 19 * * Sun", "0 0 18-20 1,15 * 1-5"]
)
def test_backup_schedule_accepts_ncrontab(env, schedule):
    env({"BACKUP_SCHEDULE": schedule})
    assert load_settings().backup_schedule == schedule


@pytest.mark.parametrize("schedule", ["0 18 * * *", "daily", "0 0 18 * * * *", "0 0 18 ? * *"])
def test_backup_schedule_that_the_host_could_not_index_is_refused(env, schedule):
    env({"BACKUP_SCHEDULE": schedule})
    with pytest.raises(ConfigurationError, match="BACKUP_SCHEDULE"):
        load_settings()


def test_unresolved_key_vault_reference_is_refused_in_every_profile(env):
    env({"APP_ENV": "development", "JWT_SECRET": "@Microsoft.KeyVault(SecretUri=https://x)"})
    with pytest.raises(ConfigurationError, match="JWT_SECRET is an unresolved Key Vault"):
        load_settings()


def test_cors_wildcard_is_refused(env):
    env({"CORS_ALLOWED_ORIGINS": "*"})
    with pytest.raises(ConfigurationError, match="CORS_ALLOWED_ORIGINS"):
        load_settings()


def test_invalid_values_name_the_setting(env):
    env({"DB_POOL_MAX": "lots", "LOG_LEVEL": "LOUD", "APP_ENV": "qa"})
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    for name in ("DB_POOL_MAX", "LOG_LEVEL", "APP_ENV"):
        assert name in message


def test_secrets_are_not_shown_in_the_settings_repr(env):
    env(
        {"JWT_SECRET": "super-secret-value-123456", "DATABASE_URL": "postgresql://u:pw1234567@h/db"}
    )
    text = repr(load_settings())
    assert "super-secret-value-123456" not in text
    assert "pw1234567" not in text


def test_settings_never_read_local_settings_json_themselves(env, tmp_path, monkeypatch):
    # Core Tools, the local host and manage.py export its Values into the environment
    # (devtools.functions_host.local_settings, tested there); settings read the environment only.
    local = tmp_path / "local.settings.json"
    local.write_text(json.dumps({"Values": {"LOG_LEVEL": "ERROR", "APP_ENV": "staging"}}))
    monkeypatch.setenv("LOCAL_SETTINGS_PATH", str(local))
    settings = load_settings()
    assert settings.app_env is AppEnv.DEVELOPMENT
    assert settings.log_level == "DEBUG"
    local.write_text("{not json")
    assert load_settings().log_level == "DEBUG"


def test_comma_lists_and_blank_values(env):
    env({"CORS_ALLOWED_ORIGINS": " https://a.example , https://b.example,", "KEY_VAULT_URL": " "})
    settings = load_settings()
    assert settings.cors_allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.key_vault_url is None


def test_openai_is_enabled_only_with_an_endpoint_and_the_flag(env):
    assert load_settings().openai_enabled is False
    env({"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"})
    assert load_settings().openai_enabled is True
    env({"ENABLE_AI_CARE_PLAN": "false"})
    assert load_settings().openai_enabled is False


def test_example_local_settings_lists_every_setting():
    """local.settings.json.example documents every setting the app reads."""
    from pathlib import Path

    from shared.config import Settings, env_name

    example = Path(__file__).resolve().parents[2] / "local.settings.json.example"
    values = json.loads(example.read_text())["Values"]
    missing = [env_name(name) for name in Settings.model_fields if env_name(name) not in values]
    assert missing == []
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["KEY_VAULT_URL"] == ""


def test_readme_configuration_table_lists_every_setting():
    from pathlib import Path

    from shared.config import Settings, env_name

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [
        env_name(name) for name in Settings.model_fields if f"`{env_name(name)}`" not in readme
    ]
    assert missing == []


@pytest.mark.parametrize("where", ["environment", "local settings"])
def test_secret_key_is_refused_naming_jwt_secret(env, tmp_path, monkeypatch, where):
    # The operations guide's SECRET_KEY is this app's JWT_SECRET: a value set under the guide's
    # name must not be silently ignored while the app signs with another key.
    if where == "environment":
        env({"SECRET_KEY": "a-key-meant-for-the-app-of-forty-characters"})
    else:
        local = tmp_path / "local.settings.json"
        local.write_text(json.dumps({"Values": {"secret_key": "a-key-meant-for-the-app"}}))
        env(read_local_settings(local))  # what the host and manage.py export at start
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    assert "SECRET_KEY" in message
    assert "JWT_SECRET" in message
    assert "a-key-meant" not in message
