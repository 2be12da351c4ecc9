"""Blob Storage: one lazily created BlobServiceClient per process.

With `STORAGE_ACCOUNT_URL` the client authenticates with DefaultAzureCredential (the Function
App's managed identity in Azure); otherwise it uses the `StorageConnectionString` secret, where
`UseDevelopmentStorage=true` means the local Azurite emulator.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import AZURITE_CONNECTION_STRING, get_settings
from shared.secrets import get_secrets

_lock = threading.Lock()
_client: Any = None
_probe_client: Any = None


def expand_connection_string(value: str) -> str:
    """Resolve the `UseDevelopmentStorage=true` shorthand, which the Python SDK does not know."""
    if value.replace(" ", "").lower().startswith("usedevelopmentstorage=true"):
        return AZURITE_CONNECTION_STRING
    return value


def build_blob_service(
    connection_timeout: int = 10, read_timeout: int = 60, retry_total: int = 3
) -> Any:
    """A new BlobServiceClient from the current settings and secrets."""
    from azure.storage.blob import BlobServiceClient

    settings = get_settings()
    if settings.storage_account_url:
        from azure.identity import DefaultAzureCredential

        return BlobServiceClient(
            settings.storage_account_url,
            credential=DefaultAzureCredential(),
            connection_timeout=connection_timeout,
            read_timeout=read_timeout,
            retry_total=retry_total,
        )
    connection_string = expand_connection_string(get_secrets().get("StorageConnectionString"))
    return BlobServiceClient.from_connection_string(
        connection_string,
        connection_timeout=connection_timeout,
        read_timeout=read_timeout,
        retry_total=retry_total,
    )


def get_blob_service() -> Any:
    """The process-wide BlobServiceClient, created on first use."""
    global _client  # noqa: PLW0603 - one client (and its connection pool) per process
    if _client is None:
        with _lock:
            if _client is None:
                _client = build_blob_service()
    return _client


def get_probe_blob_service() -> Any:
    """A client for the readiness probe: short timeouts and no retries, so it fails fast."""
    global _probe_client  # noqa: PLW0603 - one per process, like the main client
    if _probe_client is None:
        with _lock:
            if _probe_client is None:
                _probe_client = build_blob_service(
                    connection_timeout=2, read_timeout=3, retry_total=0
                )
    return _probe_client


def reset_blob_service() -> None:
    global _client, _probe_client  # noqa: PLW0603
    with _lock:
        _client = None
        _probe_client = None


#: How far back a link's start is set, so a client whose clock runs behind can use it at once.
_LINK_CLOCK_SKEW_SECONDS = 60


def read_link(
    container: str, blob_name: str, seconds: int, now: datetime | None = None
) -> tuple[str, datetime]:
    """A read-only SAS URL of one blob, valid for `seconds`, and when it expires.

    Signed with the account key where the client has one (Azurite, a connection string), else
    with a user delegation key (the managed identity in Azure: no key ever leaves the platform).
    """
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    now = now or datetime.now(UTC)
    expires = now + timedelta(seconds=seconds)
    starts = now - timedelta(seconds=_LINK_CLOCK_SKEW_SECONDS)
    service = get_blob_service()
    blob = service.get_blob_client(container, blob_name)
    signing: dict[str, Any]
    account_key = getattr(service.credential, "account_key", None)
    if account_key:
        signing = {"account_key": account_key}
    else:
        signing = {"user_delegation_key": service.get_user_delegation_key(starts, expires)}
    token = generate_blob_sas(
        account_name=blob.account_name,
        container_name=blob.container_name,
        blob_name=blob.blob_name,
        permission=BlobSasPermissions(read=True),
        start=starts,
        expiry=expires,
        **signing,
    )
    return f"{blob.url}?{token}", expires
