"""Notifications: the in-app inbox, a person's preferences (which events on which channels, quiet
hours) and Web Push subscriptions (docs/api.md "Notifications").

Lengths repeat migration 0012's CHECKs (endpoint https and <= 2000, p256dh 16-200, auth 8-100,
time zone 1-64 and a zone the server knows).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import Field, StringConstraints, field_validator

from models.common import ApiModel, PageQuery, ResponseModel
from models.vocabularies import NotificationChannel, NotificationEvent


class NotificationsQuery(PageQuery):
    unread: bool = Field(False, description="Only notifications not read yet.")


class Notification(ResponseModel):
    notification_id: int
    event_type: NotificationEvent
    event_label: str = Field(description="Korean label of the event, e.g. 방문 시작.")
    patient_id: int | None
    title: str
    body: str
    data: dict[str, Any] = Field(description="Ids to link to: visit_id, incident_id, ...")
    read_at: datetime | None
    created_at: datetime


class NotificationPage(ResponseModel):
    items: list[Notification]
    total: int
    unread: int = Field(description="The caller's unread notifications (all pages).")


class ReadAll(ResponseModel):
    marked: int = Field(description="How many notifications this marked read.")


class NotificationPreferences(ResponseModel):
    channels: dict[NotificationEvent, list[NotificationChannel]] = Field(
        description="For every event, the channels it is delivered on (the defaults where the "
        "person has not chosen)."
    )
    quiet_start: str = Field(description="HH:MM local time quiet hours start (default 22:00).")
    quiet_end: str = Field(description="HH:MM local time quiet hours end (default 07:00).")
    time_zone: str = Field(description="IANA time zone of the quiet hours (default Asia/Seoul).")
    customized: bool = Field(description="False while the person has never saved preferences.")


class PreferencesUpdate(ApiModel):
    channels: dict[NotificationEvent, list[NotificationChannel]] = Field(
        default_factory=dict,
        description="Events to change: event -> channels ([] for none). Events not named keep "
        "their current channels.",
    )
    quiet_start: time = Field(time(22, 0), description="HH:MM; equal to quiet_end: no quiet hours.")
    quiet_end: time = Field(time(7, 0))
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "Asia/Seoul"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError("must be an IANA time zone, e.g. Asia/Seoul")
        return value

    @field_validator("channels")
    @classmethod
    def _distinct(
        cls, value: dict[NotificationEvent, list[NotificationChannel]]
    ) -> dict[NotificationEvent, list[NotificationChannel]]:
        return {event: list(dict.fromkeys(channels)) for event, channels in value.items()}

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _minutes(cls, value: time) -> time:
        if value.tzinfo is not None or value.second or value.microsecond:
            raise ValueError("must be a local time HH:MM")
        return value


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES  # noqa: PLW0603 - read once
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


class PushKeys(ApiModel):
    p256dh: Annotated[
        str, StringConstraints(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")
    ]
    auth: Annotated[
        str, StringConstraints(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_=-]+$")
    ]


class PushSubscriptionCreate(ApiModel):
    """What the browser's PushSubscription.toJSON() gives (expirationTime is ignored)."""

    endpoint: Annotated[
        str, StringConstraints(max_length=2000, pattern=r"^https://[^\s/]+/\S*$")
    ] = Field(
        description="The push service URL (https); its host must be an allowed push service "
        "(WEB_PUSH_ALLOWED_HOSTS), else 422."
    )
    keys: PushKeys
    expirationTime: float | None = Field(None, description="Ignored.")

    @field_validator("endpoint")
    @classmethod
    def _allowed_push_service(cls, value: str) -> str:
        """Only a known push service (WEB_PUSH_ALLOWED_HOSTS): the backend POSTs to it."""
        from shared.config import get_settings
        from shared.notifications.push_hosts import refusal

        reason = refusal(value, get_settings().web_push_allowed_hosts)
        if reason is not None:
            raise ValueError(reason)
        return value


class PushSubscription(ResponseModel):
    subscription_id: int
    endpoint: str
    created_at: datetime


class WebPushKey(ResponseModel):
    enabled: bool = Field(description="False while Web Push is not configured on the server.")
    public_key: str | None = Field(
        description="The VAPID public key (base64url), the browser's applicationServerKey; "
        "null when not enabled."
    )
