"""The storage account a trigger's ``connection`` names, resolved as the Functions host does.

A queue trigger's ``connection`` is the NAME of an app setting (empty: ``AzureWebJobsStorage``).
The host looks for, in order:

1. a connection string in ``NAME`` (or ``AzureWebJobsNAME``); ``UseDevelopmentStorage=true``
   means the emulator's fixed account on 127.0.0.1 (queues on port 10001), as in the .NET SDK;
2. an identity-based connection: ``NAME__queueServiceUri`` (or ``NAME__serviceUri``), or
   ``NAME__accountName`` (``https://<account>.queue.core.windows.net``), with the default Azure
   credential (managed identity in Azure, the developer's sign-in locally).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.storage.queue import QueueServiceClient

from devtools.azurite import ACCOUNT_KEY, ACCOUNT_NAME

DEFAULT_CONNECTION = "AzureWebJobsStorage"
DEVELOPMENT_STORAGE = "usedevelopmentstorage=true"


class StorageConnectionError(LookupError):
    """The named connection is not configured; the message names the settings looked at."""


def _lookup(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None:
        value = next((v for k, v in environ.items() if k.lower() == name.lower()), None)
    return value if value and value.strip() else None


def development_storage_connection_string(host: str = "127.0.0.1") -> str:
    """The emulator's default endpoints, as ``UseDevelopmentStorage=true`` means them."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://{host}:10000/{ACCOUNT_NAME};"
        f"QueueEndpoint=http://{host}:10001/{ACCOUNT_NAME};"
        f"TableEndpoint=http://{host}:10002/{ACCOUNT_NAME};"
    )


def queue_service_for(connection: str | None, environ: Mapping[str, str]) -> QueueServiceClient:
    """A QueueServiceClient for the trigger's ``connection``; StorageConnectionError when unset."""
    from azure.storage.queue import QueueServiceClient

    name = connection.strip() if connection and connection.strip() else DEFAULT_CONNECTION
    text = _lookup(environ, name) or _lookup(environ, f"AzureWebJobs{name}")
    if text is not None:
        if text.strip().lower().startswith(DEVELOPMENT_STORAGE):
            text = development_storage_connection_string()
        return QueueServiceClient.from_connection_string(text)
    uri = _lookup(environ, f"{name}__queueServiceUri") or _lookup(environ, f"{name}__serviceUri")
    account = _lookup(environ, f"{name}__accountName")
    if uri is None and account is not None:
        uri = f"https://{account}.queue.core.windows.net"
    if uri is not None:
        from azure.identity import DefaultAzureCredential

        return QueueServiceClient(uri, credential=DefaultAzureCredential())
    raise StorageConnectionError(
        f"Storage connection {name!r} is not configured: set the app setting {name} to a "
        f"connection string, or {name}__queueServiceUri / {name}__accountName for an "
        "identity-based connection"
    )
