"""Azure Storage queues for background jobs: one lazily created client per process.

The same storage account and credentials as Blob (shared.storage): with `STORAGE_ACCOUNT_URL`
the managed identity (DefaultAzureCredential) on `STORAGE_QUEUE_URL`, or on the blob endpoint
read as the queue endpoint; otherwise the `StorageConnectionString` secret (its QueueEndpoint;
`UseDevelopmentStorage=true` is Azurite).

A message is base64-encoded JSON `{"job_id": "..."}`, what the Functions host's queue trigger
decodes by default (host.json `extensions.queues.messageEncoding` "base64"). It carries nothing
but the id: the job's row says everything else, so a message read by anyone reveals nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

from shared.config import get_settings
from shared.observability import get_logger

log = get_logger("jobs.queue")

POISON_SUFFIX = "-poison"
_MAX_JOB_ID = 200

_lock = threading.Lock()
_service: Any = None
_created: set[str] = set()


class InvalidJobMessage(ValueError):
    """A queue message that does not name a job: retrying it cannot help."""


def encode(job_id: str) -> str:
    """The message text for `job_id` (the SDK's encode policy base64-encodes it)."""
    return json.dumps({"job_id": job_id}, separators=(",", ":"))


def decode(body: bytes | str) -> str:
    """The job id of a message body as the trigger hands it over (already base64-decoded)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidJobMessage("the message is not JSON") from exc
    job_id = value.get("job_id") if isinstance(value, dict) else None
    if not isinstance(job_id, str) or not job_id or len(job_id) > _MAX_JOB_ID:
        raise InvalidJobMessage("the message names no job id")
    return job_id


def poison_queue_name(queue_name: str) -> str:
    """Where the Functions host moves a message after maxDequeueCount deliveries."""
    return queue_name + POISON_SUFFIX


def queue_service_url() -> str | None:
    """The queue endpoint for identity-based access, or None to use the connection string."""
    settings = get_settings()
    if settings.storage_queue_url:
        return settings.storage_queue_url
    if settings.storage_account_url:
        return settings.storage_account_url.replace(".blob.", ".queue.", 1)
    return None


def build_queue_service() -> Any:
    """A new QueueServiceClient from the current settings and secrets."""
    from azure.storage.queue import QueueServiceClient

    # Two quick retries (1 s, then 3 s): a request that enqueues must not wait the SDK's default
    # backoff (15 s, 45 s, ...) before it can answer 503.
    options: dict[str, Any] = {
        "connection_timeout": 5,
        "read_timeout": 20,
        "retry_total": 2,
        "initial_backoff": 1,
        "increment_base": 2,
    }
    url = queue_service_url()
    if url:
        from azure.identity import DefaultAzureCredential

        return QueueServiceClient(url, credential=DefaultAzureCredential(), **options)
    from shared.secrets import get_secrets
    from shared.storage import expand_connection_string

    connection_string = expand_connection_string(get_secrets().get("StorageConnectionString"))
    return QueueServiceClient.from_connection_string(connection_string, **options)


def get_queue_service() -> Any:
    """The process-wide QueueServiceClient, created on first use."""
    global _service  # noqa: PLW0603 - one client (and its connection pool) per process
    if _service is None:
        with _lock:
            if _service is None:
                _service = build_queue_service()
    return _service


def queue_client(queue_name: str) -> Any:
    """A client of `queue_name` that base64-encodes what it sends; the queue is created once."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

    client = get_queue_service().get_queue_client(
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )
    if queue_name not in _created:
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        _created.add(queue_name)
    return client


def enqueue(queue_name: str, job_id: str, *, delay_seconds: float = 0) -> None:
    """Put a message naming `job_id` on `queue_name`, visible after `delay_seconds`."""
    delay = max(0, round(delay_seconds))
    queue_client(queue_name).send_message(encode(job_id), visibility_timeout=delay or None)
    log.info("job_enqueued", queue=queue_name, job_id=job_id, delay_s=delay)


def reset_queue_service() -> None:
    """Forget the client (tests; a changed storage setting)."""
    global _service  # noqa: PLW0603
    with _lock:
        _service = None
        _created.clear()
