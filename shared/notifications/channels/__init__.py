"""Delivery channels: one adapter per channel behind one small protocol (`Channel.deliver`).

The sender (shared.notifications.sender) hands an adapter an `Outgoing` notice (the rendered
message and the recipient's addresses, read in the claim's transaction) and gets a `Result`:

- `sent`: the provider accepted it;
- `skipped`: the recipient has no address on this channel (no push subscription, no email), or
  the channel is not configured here (development without ACS): nothing to retry;
- `retry`: the provider failed (an outage, a 5xx, a time-out); the sender tries again later;
- `failed`: the provider refused this message for good (a 4xx that no retry can change).

`gone` lists push subscriptions the push service says no longer exist (404/410): the sender
deletes them. Adapters hold no database connection and never raise for a provider's failure.

The in-app inbox is not an adapter: it is a row written in the sender's claim transaction
(shared.notifications.channels.in_app), so it is delivered exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from models.vocabularies import NotificationChannel, NotificationEvent
from shared.notifications.messages import Message

Status = Literal["sent", "skipped", "retry", "failed"]


@dataclass(frozen=True)
class PushTarget:
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class Outgoing:
    outbox_id: int
    event: NotificationEvent
    channel: NotificationChannel
    urgent: bool
    message: Message
    patient_id: int | None = None
    email: str | None = None
    subscriptions: tuple[PushTarget, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    status: Status
    detail: str | None = None
    gone: tuple[int, ...] = ()


class Channel(Protocol):
    channel: NotificationChannel

    def deliver(self, item: Outgoing) -> Result: ...
