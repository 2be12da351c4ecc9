"""SecretsProvider on its own: tiny in-memory sources and a clock the test moves by hand."""

from __future__ import annotations

import uuid

import pytest

from shared.observability import REDACTED, redact_text
from shared.secrets import (
    KeyVaultSecretSource,
    SecretNotFoundError,
    SecretsProvider,
    SettingsSecretSource,
)


class DictSource:
    """A source backed by a dict that counts how often each name was fetched."""

    def __init__(self, name: str, values: dict[str, str] | None = None):
        self.name = name
        self.values = dict(values or {})
        self.fetches: dict[str, int] = {}

    def fetch(self, secret_name: str) -> str | None:
        self.fetches[secret_name] = self.fetches.get(secret_name, 0) + 1
        return self.values.get(secret_name)


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def unique(label: str) -> str:
    """A value no other test registered with the (process-wide) redactor."""
    return f"{label}-{uuid.uuid4().hex}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_value_is_cached_until_the_ttl_expires(clock: FakeClock):
    source = DictSource("vault", {"JwtSecret": "first-value"})
    provider = SecretsProvider([source], ttl_seconds=60, clock=clock)

    assert provider.get("JwtSecret") == "first-value"
    source.values["JwtSecret"] = "rotated-value"
    clock.advance(59.9)
    assert provider.get("JwtSecret") == "first-value"
    assert source.fetches["JwtSecret"] == 1

    clock.advance(0.1)  # exactly at expiry the entry is stale
    assert provider.get("JwtSecret") == "rotated-value"
    assert source.fetches["JwtSecret"] == 2


def test_ttl_zero_fetches_every_time(clock: FakeClock):
    source = DictSource("vault", {"JwtSecret": "never-cached"})
    provider = SecretsProvider([source], ttl_seconds=0, clock=clock)

    for _ in range(3):
        assert provider.get("JwtSecret") == "never-cached"

    assert source.fetches["JwtSecret"] == 3


def test_invalidate_one_name_drops_only_that_name(clock: FakeClock):
    source = DictSource("vault", {"JwtSecret": "jwt-v1", "AzureOpenaiKey": "openai-v1"})
    provider = SecretsProvider([source], ttl_seconds=300, clock=clock)
    provider.get("JwtSecret")
    provider.get("AzureOpenaiKey")
    source.values.update(JwtSecret="jwt-v2", AzureOpenaiKey="openai-v2")

    provider.invalidate("JwtSecret")

    assert provider.get("JwtSecret") == "jwt-v2"
    assert provider.get("AzureOpenaiKey") == "openai-v1"
    assert source.fetches == {"JwtSecret": 2, "AzureOpenaiKey": 1}


def test_invalidate_all_drops_every_name(clock: FakeClock):
    source = DictSource("vault", {"JwtSecret": "jwt-v1", "AzureOpenaiKey": "openai-v1"})
    provider = SecretsProvider([source], ttl_seconds=300, clock=clock)
    provider.get("JwtSecret")
    provider.get("AzureOpenaiKey")
    source.values.update(JwtSecret="jwt-v2", AzureOpenaiKey="openai-v2")

    provider.invalidate()

    assert provider.get("JwtSecret") == "jwt-v2"
    assert provider.get("AzureOpenaiKey") == "openai-v2"


def test_invalidate_unknown_name_is_harmless(clock: FakeClock):
    source = DictSource("vault", {"JwtSecret": "jwt-v1"})
    provider = SecretsProvider([source], ttl_seconds=300, clock=clock)
    provider.get("JwtSecret")

    provider.invalidate("NeverRead")

    assert provider.get("JwtSecret") == "jwt-v1"
    assert source.fetches["JwtSecret"] == 1


def test_first_source_with_a_value_wins(clock: FakeClock):
    vault = DictSource("vault", {"JwtSecret": "from-vault"})
    settings = DictSource("settings", {"JwtSecret": "from-settings"})
    provider = SecretsProvider([vault, settings], ttl_seconds=300, clock=clock)

    assert provider.get("JwtSecret") == "from-vault"
    assert settings.fetches == {}


def test_later_source_answers_when_earlier_has_nothing(clock: FakeClock):
    vault = DictSource("vault", {"JwtSecret": ""})  # empty counts as absent
    settings = DictSource("settings", {"JwtSecret": "from-settings"})
    provider = SecretsProvider([vault, settings], ttl_seconds=300, clock=clock)

    assert provider.get("JwtSecret") == "from-settings"
    assert provider.get("JwtSecret") == "from-settings"
    # The fallback value is cached too: neither source is asked again.
    assert vault.fetches["JwtSecret"] == 1
    assert settings.fetches["JwtSecret"] == 1


def test_missing_secret_is_none_from_get_optional_and_not_cached(clock: FakeClock):
    source = DictSource("vault")
    provider = SecretsProvider([source], ttl_seconds=300, clock=clock)

    assert provider.get_optional("JwtSecret") is None
    source.values["JwtSecret"] = "added-later"
    assert provider.get_optional("JwtSecret") == "added-later"


def test_missing_secret_error_names_the_setting(clock: FakeClock):
    provider = SecretsProvider([DictSource("settings")], ttl_seconds=300, clock=clock)

    with pytest.raises(SecretNotFoundError, match="DATABASE_URL"):
        provider.get("DatabaseURL")


def test_missing_storage_secret_names_both_settings(clock: FakeClock):
    provider = SecretsProvider([DictSource("settings")], ttl_seconds=300, clock=clock)

    with pytest.raises(SecretNotFoundError) as caught:
        provider.get("StorageConnectionString")

    assert "AZURE_STORAGE_CONNECTION_STRING" in str(caught.value)
    assert "AzureWebJobsStorage" in str(caught.value)


def test_missing_secret_error_names_the_vault_secret_when_a_vault_is_a_source(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    vault = KeyVaultSecretSource("https://unused.vault.example")
    monkeypatch.setattr(vault, "fetch", lambda _name: None)  # no network in a unit test
    provider = SecretsProvider([vault, DictSource("settings")], ttl_seconds=300, clock=clock)

    with pytest.raises(SecretNotFoundError) as caught:
        provider.get("JwtSecret")

    assert "Key Vault secret 'JwtSecret'" in str(caught.value)
    assert "JWT_SECRET" in str(caught.value)
    assert provider.key_vault is vault


def test_key_vault_property_is_none_without_a_vault(clock: FakeClock):
    provider = SecretsProvider([DictSource("settings")], ttl_seconds=300, clock=clock)

    assert provider.key_vault is None


def test_settings_source_maps_vault_names_to_app_settings(monkeypatch: pytest.MonkeyPatch):
    from shared.config import load_settings

    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("ALLOWED_HOSTS", "staging-api.neulbomcare.example")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "settings-openai-key")
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    source = SettingsSecretSource(load_settings())

    assert source.fetch("AzureOpenaiKey") == "settings-openai-key"
    assert source.fetch("StorageConnectionString") == "UseDevelopmentStorage=true"
    assert source.fetch("JwtSecret") is None
    assert source.fetch("NotASecretWeKnow") is None


def test_values_are_registered_with_the_redactor_on_get(clock: FakeClock):
    value = unique("provider-secret")
    provider = SecretsProvider([DictSource("vault", {"JwtSecret": value})], 300, clock=clock)
    line = f"connecting with {value} now"
    assert redact_text(line) == line  # not known yet

    provider.get("JwtSecret")

    assert redact_text(line) == f"connecting with {REDACTED} now"


def test_fallback_values_are_registered_with_the_redactor(clock: FakeClock):
    value = unique("fallback-secret")
    vault = DictSource("vault")
    settings = DictSource("settings", {"AzureOpenaiKey": value})
    provider = SecretsProvider([vault, settings], ttl_seconds=300, clock=clock)

    provider.get("AzureOpenaiKey")

    assert value not in redact_text(f"key is {value}")


def test_rotated_value_is_registered_too(clock: FakeClock):
    old, new = unique("old-secret"), unique("new-secret")
    source = DictSource("vault", {"JwtSecret": old})
    provider = SecretsProvider([source], ttl_seconds=300, clock=clock)
    provider.get("JwtSecret")
    source.values["JwtSecret"] = new
    assert redact_text(new) == new

    provider.invalidate("JwtSecret")
    provider.get("JwtSecret")

    # Both stay masked: log lines about the old value can still be written after rotation.
    assert redact_text(f"{old} {new}") == f"{REDACTED} {REDACTED}"
