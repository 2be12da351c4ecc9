"""Notifications of the signed-in person: the in-app inbox, preferences, Web Push subscriptions
(shared.notifications.service). Any role may call these for their own; another person's
notification or subscription is a 404."""

from __future__ import annotations

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
from shared.http import Api, ApiRequest
from shared.notifications import service

api = Api(tag="notifications")
bp = api.blueprint


@api.route(
    "GET",
    "api/notifications",
    name="notifications_list",
    query=NotificationsQuery,
    response=NotificationPage,
)
def list_notifications(request: ApiRequest) -> NotificationPage:
    """My inbox, newest first (`?unread=true`, `limit`, `offset`)."""
    return service.list_inbox(request.uow, request.query)


@api.route(
    "POST",
    "api/notifications/{notification_id:long}/read",
    name="notifications_read",
    response=Notification,
    errors=(404,),
)
def mark_read(request: ApiRequest) -> Notification:
    """Mark one of my notifications read."""
    return service.mark_read(request.uow, request.path_params["notification_id"])


@api.route("POST", "api/notifications/read-all", name="notifications_read_all", response=ReadAll)
def mark_all_read(request: ApiRequest) -> ReadAll:
    """Mark all my notifications read."""
    return service.mark_all_read(request.uow)


@api.route(
    "GET",
    "api/notifications/web-push-key",
    name="notifications_web_push_key",
    response=WebPushKey,
)
def web_push_key(request: ApiRequest) -> WebPushKey:
    """The VAPID public key a browser subscribes with (applicationServerKey)."""
    return service.web_push_key(request.uow)


@api.route(
    "GET",
    "api/notification-preferences",
    name="notification_preferences_get",
    response=NotificationPreferences,
)
def get_preferences(request: ApiRequest) -> NotificationPreferences:
    """My notification preferences (the defaults until I save mine)."""
    return service.get_preferences(request.uow)


@api.route(
    "PUT",
    "api/notification-preferences",
    name="notification_preferences_put",
    body=PreferencesUpdate,
    response=NotificationPreferences,
)
def put_preferences(request: ApiRequest) -> NotificationPreferences:
    """Save my quiet hours and time zone, and the channels of the events I name."""
    return service.put_preferences(request.uow, request.body)


@api.route(
    "POST",
    "api/push-subscriptions",
    name="push_subscriptions_create",
    body=PushSubscriptionCreate,
    response=PushSubscription,
    status=201,
    errors=(409,),
)
def subscribe(request: ApiRequest) -> PushSubscription:
    """Register this browser for Web Push (its PushSubscription.toJSON())."""
    subscription, _created = service.subscribe(request.uow, request.body)
    return subscription


@api.route(
    "DELETE",
    "api/push-subscriptions/{subscription_id:long}",
    name="push_subscriptions_delete",
    status=204,
    errors=(404,),
)
def unsubscribe(request: ApiRequest) -> None:
    """Stop Web Push to one of my browsers."""
    service.unsubscribe(request.uow, request.path_params["subscription_id"])
