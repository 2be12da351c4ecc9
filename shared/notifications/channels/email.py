"""Email through Azure Communication Services (azure-communication-email).

In Azure the client authenticates with the app's managed identity (`ACS_EMAIL_ENDPOINT`, the
identity holding a role on the Communication Services resource); locally a connection string
(`ACS_EMAIL_CONNECTION_STRING`, Key Vault `AcsEmailConnectionString`) may stand in. Without
either, or without `ACS_EMAIL_SENDER` (the verified domain's sender address), the channel is
skipped with a log: development sends no mail.

The send is one POST (`/emails:send`), answered 202 with an operation the SDK could poll; the
sender does not wait for the mail to be delivered, only accepted. The outbox row's id is sent as
the `Operation-Id` header: ACS treats a repeated Operation-Id as the same operation, so a row
sent again after a crash (the lease lapsed before it was marked) is not mailed twice.
The text is the outside rendering (masked name, no free text).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from models.vocabularies import NotificationChannel
from shared.config import get_settings
from shared.notifications.channels import Outgoing, Result
from shared.observability import get_logger, redact_text

log = get_logger("notifications.email")

SECRET_NAME = "AcsEmailConnectionString"  # noqa: S105 - a secret\'s name, not its value
#: The namespace of the Operation-Id of an outbox row (a stable UUID per row).
_OPERATION_NAMESPACE = uuid.UUID("6c0b3f4e-2f0a-4a8e-9d0e-6e6f74696679")

_lock = threading.Lock()
_client: Any = None


def operation_id(outbox_id: int) -> str:
    return str(uuid.uuid5(_OPERATION_NAMESPACE, f"notification_outbox:{outbox_id}"))


def _build_client() -> Any | None:
    from azure.communication.email import EmailClient

    from shared.secrets import azure_credential, get_secrets

    settings = get_settings()
    options: dict[str, Any] = {
        "connection_timeout": 5,
        "read_timeout": settings.notify_http_timeout_seconds,
        "retry_total": 0,  # the outbox retries, with backoff, across minutes
    }
    if settings.acs_email_endpoint:
        credential = azure_credential(settings.azure_client_id)
        return EmailClient(settings.acs_email_endpoint, credential, **options)
    connection_string = get_secrets().get_optional(SECRET_NAME)
    if connection_string:
        return EmailClient.from_connection_string(connection_string, **options)
    return None


def get_client() -> Any | None:
    global _client  # noqa: PLW0603 - one client (and its connection pool) per process
    with _lock:
        if _client is None:
            _client = _build_client()
        return _client


def reset_client() -> None:
    """Forget the client (tests; changed settings)."""
    global _client  # noqa: PLW0603
    with _lock:
        _client = None


class EmailChannel:
    channel = NotificationChannel.EMAIL

    def __init__(self, client: Any | None, sender: str | None) -> None:
        self._client = client
        self._sender = sender

    @classmethod
    def from_settings(cls) -> EmailChannel:
        settings = get_settings()
        return cls(get_client() if settings.acs_email_sender else None, settings.acs_email_sender)

    def deliver(self, item: Outgoing) -> Result:
        if not item.email:
            return Result("skipped", "no email address")
        if self._client is None or not self._sender:
            log.info("email_not_configured", outbox_id=item.outbox_id)
            return Result("skipped", "email is not configured (ACS_EMAIL_SENDER, an endpoint)")
        from azure.core.exceptions import AzureError, HttpResponseError

        message = {
            "senderAddress": self._sender,
            "recipients": {"to": [{"address": item.email}]},
            "content": {
                "subject": item.message.title,
                "plainText": item.message.body + "\n\n늘봄케어 앱에서 자세한 내용을 확인하세요.",
            },
        }
        try:
            self._client.begin_send(
                message, operation_id=operation_id(item.outbox_id), polling=False
            )
        except HttpResponseError as exc:
            code = exc.status_code
            if code is not None and 400 <= code < 500 and code not in (408, 429):
                # The message itself was refused (a malformed address): trying again cannot help.
                return Result("failed", f"email refused ({code})")
            return Result("retry", f"email service answered {code}")
        except AzureError as exc:
            return Result("retry", redact_text(f"{type(exc).__name__}: {exc}")[:300])
        return Result("sent")
