"""The notification API's rules: a signed-in person's own inbox, preferences and push
subscriptions (functions/notifications.py). Nothing here is patient-scoped authorization: each
statement is limited to the caller's user id, so someone else's notification or subscription is
a 404, the same answer as a missing one. Reading the inbox is audited per patient named."""

from __future__ import annotations

from datetime import time
from typing import Any

from models.notifications import (
    Notification,
    NotificationPage,
    NotificationPreferences,
    NotificationsQuery,
    PreferencesUpdate,
    PushSubscription,
    PushSubscriptionCreate,
    ReadAll,
    WebPushKey,
)
from models.vocabularies import NotificationChannel, NotificationEvent
from shared.audit import AuditAction
from shared.errors import ConflictError, NotFoundError
from shared.notifications import repository as repo
from shared.notifications.outbox import DEFAULT_CHANNELS
from shared.notifications.schedule import DEFAULT_ZONE
from shared.unit_of_work import UnitOfWork

DEFAULT_QUIET_START = time(22, 0)
DEFAULT_QUIET_END = time(7, 0)


def _notification(row: dict[str, Any]) -> Notification:
    event = NotificationEvent(row["event_type"])
    return Notification(**row, event_label=event.label)


def list_inbox(uow: UnitOfWork, query: NotificationsQuery) -> NotificationPage:
    user_id = uow.principal.user_id
    rows, total, unread = repo.list_inbox(
        uow.cursor, user_id, unread=query.unread, limit=query.limit, offset=query.offset
    )
    items = [_notification(row) for row in rows]
    targets = [(n.patient_id, n.notification_id) for n in items if n.patient_id is not None]
    if targets:
        uow.audit_many(AuditAction.VIEW, "notification", targets)
    return NotificationPage(items=items, total=total, unread=unread)


def mark_read(uow: UnitOfWork, notification_id: int) -> Notification:
    """Mark one of my notifications read; the answer shows it, so it is audited as the inbox is."""
    row = repo.mark_read(uow.cursor, uow.principal.user_id, notification_id)
    if row is None:
        raise NotFoundError("No such notification.")
    notification = _notification(row)
    if notification.patient_id is not None:
        uow.audit(
            AuditAction.VIEW,
            "notification",
            patient_id=notification.patient_id,
            resource_id=notification_id,
        )
    return notification


def mark_all_read(uow: UnitOfWork) -> ReadAll:
    return ReadAll(marked=repo.mark_all_read(uow.cursor, uow.principal.user_id))


def _preferences(row: dict[str, Any] | None) -> NotificationPreferences:
    chosen: dict[str, Any] = (row or {}).get("channels") or {}
    channels: dict[NotificationEvent, list[NotificationChannel]] = {}
    for event in NotificationEvent:
        names = chosen.get(event.value, DEFAULT_CHANNELS[event])
        channels[event] = [NotificationChannel(n) for n in names if n in _CHANNEL_NAMES]
    start: time = (row or {}).get("quiet_start") or DEFAULT_QUIET_START
    end: time = (row or {}).get("quiet_end") or DEFAULT_QUIET_END
    return NotificationPreferences(
        channels=channels,
        quiet_start=start.strftime("%H:%M"),
        quiet_end=end.strftime("%H:%M"),
        time_zone=(row or {}).get("time_zone") or DEFAULT_ZONE,
        customized=row is not None,
    )


_CHANNEL_NAMES = {channel.value for channel in NotificationChannel}


def get_preferences(uow: UnitOfWork) -> NotificationPreferences:
    return _preferences(repo.get_preferences(uow.cursor, uow.principal.user_id))


def put_preferences(uow: UnitOfWork, body: PreferencesUpdate) -> NotificationPreferences:
    """Replace the quiet hours and zone; change the channels of the events named."""
    cur = uow.cursor
    user_id = uow.principal.user_id
    current = repo.get_preferences(cur, user_id)
    channels: dict[str, list[str]] = dict((current or {}).get("channels") or {})
    for event, chosen in body.channels.items():
        channels[NotificationEvent(event).value] = [NotificationChannel(c).value for c in chosen]
    row = repo.put_preferences(
        cur,
        user_id,
        channels=channels,
        quiet_start=body.quiet_start,
        quiet_end=body.quiet_end,
        time_zone=body.time_zone,
    )
    return _preferences(row)


def subscribe(uow: UnitOfWork, body: PushSubscriptionCreate) -> tuple[PushSubscription, bool]:
    upserted = repo.upsert_subscription(
        uow.cursor,
        uow.principal.user_id,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
    )
    if upserted is None:
        raise ConflictError(
            "This push endpoint belongs to another account with other keys; "
            "the browser must subscribe again (a new endpoint)."
        )
    row, created = upserted
    return PushSubscription(**row), created


def unsubscribe(uow: UnitOfWork, subscription_id: int) -> None:
    if not repo.delete_subscription(uow.cursor, uow.principal.user_id, subscription_id):
        raise NotFoundError("No such push subscription.")


def web_push_key(uow: UnitOfWork) -> WebPushKey:
    """The VAPID public key for the browser; `enabled` false while none is configured (the
    frontend then offers no push)."""
    from shared.notifications.channels import web_push

    private = web_push.private_key()
    if not private:
        return WebPushKey(enabled=False, public_key=None)
    return WebPushKey(enabled=True, public_key=web_push.public_key(private))
