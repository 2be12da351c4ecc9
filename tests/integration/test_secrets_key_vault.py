"""shared.secrets against the HTTPS Key Vault fake, through the real SDK and DefaultAzureCredential.

Nothing of ours is mocked: the provider builds a SecretClient, DefaultAzureCredential finds the
fake managed identity from the environment, and the vault fake counts every authorised GET, so a
cached read is proven by the count not moving.
"""

from __future__ import annotations

import pytest

from shared.health_checks import check_key_vault
from shared.secrets import SecretNotFoundError, get_secret, get_secrets
from tests.fakes.key_vault import FakeKeyVault

pytestmark = pytest.mark.integration


@pytest.fixture
def vault_env(key_vault_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The app's environment in Azure: KEY_VAULT_URL plus the managed identity, in-process."""
    for name, value in key_vault_env.items():
        monkeypatch.setenv(name, value)
    return key_vault_env


def test_get_secret_reads_the_vault(vault_env: dict[str, str], fake_key_vault: FakeKeyVault):
    fake_key_vault.set_secret("JwtSecret", "vault-jwt-signing-key-0001")

    assert get_secret("JwtSecret") == "vault-jwt-signing-key-0001"
    assert fake_key_vault.request_count("JwtSecret") == 1


def test_vault_value_wins_over_the_app_setting(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("JWT_SECRET", "app-setting-jwt-key-0002")
    fake_key_vault.set_secret("JwtSecret", "vault-jwt-signing-key-0002")

    assert get_secret("JwtSecret") == "vault-jwt-signing-key-0002"


def test_second_read_within_ttl_makes_no_request(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault
):
    fake_key_vault.set_secret("JwtSecret", "vault-jwt-signing-key-0003")

    first = get_secret("JwtSecret")
    second = get_secret("JwtSecret")

    assert first == second == "vault-jwt-signing-key-0003"
    assert fake_key_vault.request_count("JwtSecret") == 1


def test_rotation_is_seen_only_after_invalidate(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault
):
    fake_key_vault.set_secret("JwtSecret", "vault-jwt-before-rotation")
    assert get_secret("JwtSecret") == "vault-jwt-before-rotation"

    fake_key_vault.set_secret("JwtSecret", "vault-jwt-after-rotation")

    # Still inside the TTL: the cached value is served and the vault is not asked.
    assert get_secret("JwtSecret") == "vault-jwt-before-rotation"
    assert fake_key_vault.request_count("JwtSecret") == 1

    get_secrets().invalidate("JwtSecret")

    assert get_secret("JwtSecret") == "vault-jwt-after-rotation"
    assert fake_key_vault.request_count("JwtSecret") == 2


def test_invalidate_one_secret_keeps_the_others_cached(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault
):
    fake_key_vault.set_secret("JwtSecret", "vault-jwt-signing-key-0004")
    fake_key_vault.set_secret("AzureOpenaiKey", "vault-openai-key-0004")
    get_secret("JwtSecret")
    get_secret("AzureOpenaiKey")

    get_secrets().invalidate("JwtSecret")
    get_secret("JwtSecret")
    get_secret("AzureOpenaiKey")

    assert fake_key_vault.request_count("JwtSecret") == 2
    assert fake_key_vault.request_count("AzureOpenaiKey") == 1


def test_ttl_zero_refetches_on_every_read(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SECRETS_CACHE_TTL_SECONDS", "0")
    fake_key_vault.set_secret("JwtSecret", "vault-jwt-uncached-1")

    assert get_secret("JwtSecret") == "vault-jwt-uncached-1"
    fake_key_vault.set_secret("JwtSecret", "vault-jwt-uncached-2")
    assert get_secret("JwtSecret") == "vault-jwt-uncached-2"
    assert get_secret("JwtSecret") == "vault-jwt-uncached-2"

    assert fake_key_vault.request_count("JwtSecret") == 3


def test_secret_missing_in_vault_falls_back_to_the_app_setting(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("JWT_SECRET", "app-setting-jwt-key-0005")

    assert get_secret("JwtSecret") == "app-setting-jwt-key-0005"
    # The vault was asked (and answered 404) before the app setting was used.
    assert fake_key_vault.request_count("JwtSecret") == 1


def test_storage_secret_falls_back_to_azure_web_jobs_storage(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("ALLOWED_HOSTS", "staging-api.neulbomcare.example")
    monkeypatch.setenv("AzureWebJobsStorage", "DefaultEndpointsProtocol=https;AccountName=x")

    value = get_secret("StorageConnectionString")

    assert value == "DefaultEndpointsProtocol=https;AccountName=x"
    assert fake_key_vault.request_count("StorageConnectionString") == 1


def test_secret_missing_everywhere_names_both_places(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
):
    # Staging has no development JWT default, so nothing holds the secret.
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("ALLOWED_HOSTS", "staging-api.neulbomcare.example")
    monkeypatch.delenv("JWT_SECRET", raising=False)

    with pytest.raises(SecretNotFoundError) as caught:
        get_secret("JwtSecret")

    message = str(caught.value)
    assert "Key Vault secret 'JwtSecret'" in message
    assert "JWT_SECRET" in message
    assert fake_key_vault.request_count("JwtSecret") == 1


def test_missing_secret_is_not_cached(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
):
    """A secret added to the vault after a failed read is found on the next read."""
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("ALLOWED_HOSTS", "staging-api.neulbomcare.example")
    with pytest.raises(SecretNotFoundError):
        get_secret("AzureOpenaiKey")

    fake_key_vault.set_secret("AzureOpenaiKey", "vault-openai-key-late")

    assert get_secret("AzureOpenaiKey") == "vault-openai-key-late"
    assert fake_key_vault.request_count("AzureOpenaiKey") == 2


def test_readiness_check_is_ok_against_the_vault(
    vault_env: dict[str, str], fake_key_vault: FakeKeyVault
):
    # An empty vault: the probe's 404 still proves an authenticated round trip.
    assert check_key_vault() is None
    assert fake_key_vault.request_count("JwtSecret") == 1


def test_readiness_check_is_disabled_without_a_vault(
    fake_key_vault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)

    outcome = check_key_vault()

    assert outcome is not None
    assert outcome.status == "disabled"
    assert "KEY_VAULT_URL" in (outcome.detail or "")
    assert fake_key_vault.request_count("JwtSecret") == 0
