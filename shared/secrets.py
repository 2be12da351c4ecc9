"""One secrets provider: Azure Key Vault when `KEY_VAULT_URL` is set, app settings otherwise.

Secrets are asked for by their Key Vault names (the runbook's): `DatabaseURL`, `AzureOpenaiKey`,
`JwtSecret`, `StorageConnectionString`, `BackupSigningKey`. Without a vault each maps to an app
setting (`DATABASE_URL`, `AZURE_OPENAI_API_KEY`, `JWT_SECRET`, `AZURE_STORAGE_CONNECTION_STRING`,
falling back to `AzureWebJobsStorage`, and `BACKUP_SIGNING_KEY`). With a vault, the vault is
asked first and the app setting second, so a Key Vault reference resolved by the platform also
works.

Values are cached for `SECRETS_CACHE_TTL_SECONDS`. A caller whose secret was refused (a rotated
database password, a rotated JWT key) calls `invalidate(name)` and the next read fetches the new
value. Every value is registered with the log redactor before it is handed out.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from shared.config import Settings, env_name, get_settings
from shared.errors import ConfigurationError
from shared.observability import get_logger, register_secret

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient

log = get_logger("secrets")

#: Key Vault secret name -> the settings fields that hold it locally, first match wins.
SECRET_SETTINGS: dict[str, tuple[str, ...]] = {
    "DatabaseURL": ("database_url",),
    "AzureOpenaiKey": ("azure_openai_api_key",),
    "JwtSecret": ("jwt_secret",),
    "StorageConnectionString": ("azure_storage_connection_string", "azure_web_jobs_storage"),
    "BackupSigningKey": ("backup_signing_key",),
    # Notifications (shared.notifications.channels): the Web Push VAPID key; ACS email locally.
    "VapidPrivateKey": ("web_push_vapid_private_key",),
    "AcsEmailConnectionString": ("acs_email_connection_string",),
}


class SecretNotFoundError(ConfigurationError):
    """No source holds the secret: a deployment mistake, reported with the names to set."""


class SecretSource(Protocol):
    name: str

    def fetch(self, secret_name: str) -> str | None: ...


class SettingsSecretSource:
    """Secrets from app settings (environment or local.settings.json)."""

    name = "settings"

    def __init__(self, settings: Settings):
        self._settings = settings

    def fetch(self, secret_name: str) -> str | None:
        for field_name in SECRET_SETTINGS.get(secret_name, ()):
            value: SecretStr | None = getattr(self._settings, field_name)
            if value is not None and value.get_secret_value():
                return value.get_secret_value()
        return None


class KeyVaultSecretSource:
    """Secrets from Azure Key Vault through the SDK, authenticated by DefaultAzureCredential.

    In Azure that is the Function App's managed identity; on a laptop, `az login`.
    """

    name = "key_vault"

    def __init__(
        self,
        vault_url: str,
        credential: TokenCredential | None = None,
        client_id: str | None = None,
    ):
        self.vault_url = vault_url
        self._credential = credential
        self._client_id = client_id
        self._client: SecretClient | None = None
        self._lock = threading.Lock()

    def _get_client(self) -> SecretClient:
        with self._lock:
            if self._client is None:
                from azure.keyvault.secrets import SecretClient

                credential = self._credential or azure_credential(self._client_id)
                self._client = SecretClient(vault_url=self.vault_url, credential=credential)
            return self._client

    def fetch(self, secret_name: str) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._get_client().get_secret(secret_name).value
        except ResourceNotFoundError:
            return None

    def ping(self) -> None:
        """One authenticated round trip (the readiness check)."""
        from azure.core.exceptions import ResourceNotFoundError

        # A 404 still proves the vault answered and accepted our identity.
        with contextlib.suppress(ResourceNotFoundError):
            self._get_client().get_secret("JwtSecret")


def azure_credential(client_id: str | None = None) -> DefaultAzureCredential:
    """The app's Azure identity (Key Vault, and PostgreSQL with DATABASE_AUTH=entra):
    DefaultAzureCredential, in Azure the Function App's managed identity (the user-assigned one
    `client_id`, AZURE_CLIENT_ID, names, if set); on a laptop, `az login`."""
    from azure.identity import DefaultAzureCredential

    if client_id:
        return DefaultAzureCredential(managed_identity_client_id=client_id)
    return DefaultAzureCredential()


@dataclass
class _Cached:
    value: str
    source: str
    expires_at: float


class SecretsProvider:
    """Reads secrets from its sources in order and caches each value for a while."""

    def __init__(
        self,
        sources: list[SecretSource],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sources = sources
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def get(self, secret_name: str) -> str:
        """The secret's value; raises SecretNotFoundError naming where to set it."""
        value = self.get_optional(secret_name)
        if value is None:
            settings_names = ", ".join(
                env_name(field) for field in SECRET_SETTINGS.get(secret_name, ())
            )
            places = " or ".join(
                f"Key Vault secret '{secret_name}'" if s.name == "key_vault" else settings_names
                for s in self.sources
                if s.name == "key_vault" or settings_names
            )
            hint = f": set {places}" if places else " (no source knows this name)"
            raise SecretNotFoundError(f"Secret {secret_name} is not configured{hint}")
        return value

    def get_optional(self, secret_name: str) -> str | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(secret_name)
            if cached is not None and cached.expires_at > now:
                return cached.value
        for source in self.sources:
            value = source.fetch(secret_name)
            if value:
                register_secret(value)
                with self._lock:
                    self._cache[secret_name] = _Cached(value, source.name, now + self.ttl_seconds)
                log.debug("secret_loaded", name=secret_name, source=source.name)
                return value
        return None

    def invalidate(self, secret_name: str | None = None) -> None:
        """Drop cached values so the next read fetches the current (rotated) one."""
        with self._lock:
            if secret_name is None:
                self._cache.clear()
            else:
                self._cache.pop(secret_name, None)

    @property
    def key_vault(self) -> KeyVaultSecretSource | None:
        return next((s for s in self.sources if isinstance(s, KeyVaultSecretSource)), None)


def build_provider(settings: Settings) -> SecretsProvider:
    sources: list[SecretSource] = []
    if settings.key_vault_url:
        sources.append(
            KeyVaultSecretSource(settings.key_vault_url, client_id=settings.azure_client_id)
        )
    sources.append(SettingsSecretSource(settings))
    return SecretsProvider(sources, ttl_seconds=settings.secrets_cache_ttl_seconds)


_provider_lock = threading.Lock()
_provider: SecretsProvider | None = None


def get_secrets() -> SecretsProvider:
    """The process-wide provider, built on first use (never at import)."""
    global _provider  # noqa: PLW0603 - one provider (and one cache) per process
    if _provider is None:
        with _provider_lock:
            if _provider is None:
                _provider = build_provider(get_settings())
    return _provider


def get_secret(secret_name: str) -> str:
    """Shortcut: the current value of a secret (Key Vault name)."""
    return get_secrets().get(secret_name)


def reset_secrets() -> None:
    """Forget the provider and its cache (tests; after settings change)."""
    global _provider  # noqa: PLW0603
    with _provider_lock:
        _provider = None
