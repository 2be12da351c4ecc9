"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291), via pywebpush.

The VAPID private key is the Key Vault secret `VapidPrivateKey` (locally the app setting
`WEB_PUSH_VAPID_PRIVATE_KEY`): the 32-byte P-256 private key, base64url (what `vapid --gen` or
the web-push libraries print as the private key). Its public key, the browser's
`applicationServerKey`, is derived from it and served by `GET /api/notifications/web-push-key`.
`WEB_PUSH_VAPID_SUBJECT` is the JWT's `sub` (a mailto: or https: contact); `aud` is the origin of
each endpoint, `exp` twelve hours ahead (pywebpush).

One outbox row goes to every subscription of the recipient (a person may use several browsers).
A push service answering 404 or 410 says the subscription is gone: its id is returned in
`Result.gone` for the sender to delete. Any other failure is a `retry` of the whole row (the
browsers that already got it may get it again: a push repeats, it is never lost).
The payload is the outside rendering (masked name, no free text; shared.notifications.messages).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from models.vocabularies import NotificationChannel
from shared.config import get_settings
from shared.notifications import push_hosts
from shared.notifications.channels import Outgoing, Result
from shared.observability import get_logger

log = get_logger("notifications.web_push")

SECRET_NAME = "VapidPrivateKey"  # noqa: S105 - a secret\'s name, not its value
#: How long a push service keeps a message for an offline browser (seconds): one day.
TTL_SECONDS = 24 * 3600
_GONE = (404, 410)

_lock = threading.Lock()
_vapid_cache: dict[str, Any] = {}


def _vapid(private_key: str) -> Any:
    from py_vapid import Vapid02

    with _lock:
        vapid = _vapid_cache.get(private_key)
        if vapid is None:
            _vapid_cache.clear()
            vapid = Vapid02.from_string(private_key)
            _vapid_cache[private_key] = vapid
        return vapid


def private_key() -> str | None:
    """The configured VAPID private key, or None (Web Push then skips with a log)."""
    from shared.secrets import get_secrets

    return get_secrets().get_optional(SECRET_NAME)


def public_key(private: str) -> str:
    """The applicationServerKey of `private`: the uncompressed P-256 point, base64url."""
    from cryptography.hazmat.primitives import serialization

    point = _vapid(private).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")


class _NoRedirects(requests.Session):
    """A session that never follows a redirect: a push service answers 201, and a 3xx to
    another host would carry the POST where the host rule never looked."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


class WebPushChannel:
    channel = NotificationChannel.WEB_PUSH

    def __init__(
        self,
        private: str | None,
        subject: str,
        timeout: float,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        self._private = private
        self._subject = subject
        self._timeout = timeout
        self._allowed_hosts = tuple(allowed_hosts)

    @classmethod
    def from_settings(cls) -> WebPushChannel:
        settings = get_settings()
        return cls(
            private_key(),
            settings.web_push_vapid_subject,
            settings.notify_http_timeout_seconds,
            settings.web_push_allowed_hosts,
        )

    def deliver(self, item: Outgoing) -> Result:
        if not item.subscriptions:
            return Result("skipped", "no push subscription")
        if not self._private:
            log.warning("web_push_not_configured", outbox_id=item.outbox_id)
            return Result("skipped", f"web push is not configured ({SECRET_NAME})")
        payload = json.dumps(
            {
                "title": item.message.title,
                "body": item.message.body,
                "event": item.event.value,
                "outbox_id": item.outbox_id,
                "url": "/notifications",
            },
            ensure_ascii=False,
        )
        sent = 0
        gone: list[int] = []
        errors: list[str] = []
        refused: list[str] = []
        for target in item.subscriptions:
            reason = push_hosts.refusal(target.endpoint, self._allowed_hosts)
            if reason is not None:
                # Never posted to; the subscription is deleted (it was stored before the rule
                # or the setting changed). The reason names the host, never the path.
                log.warning(
                    "web_push_endpoint_refused",
                    outbox_id=item.outbox_id,
                    subscription_id=target.subscription_id,
                    reason=reason,
                )
                gone.append(target.subscription_id)
                refused.append(reason)
                continue
            status, error = self._send(target.endpoint, target.p256dh, target.auth, payload, item)
            if status == "sent":
                sent += 1
            elif status == "gone":
                gone.append(target.subscription_id)
            else:
                errors.append(error or "failed")
        if errors:
            return Result("retry", "; ".join(errors)[:900], tuple(gone))
        if sent:
            return Result("sent", None, tuple(gone))
        if refused:
            return Result("skipped", "; ".join(dict.fromkeys(refused))[:900], tuple(gone))
        return Result("skipped", "every push subscription is gone", tuple(gone))

    def _send(
        self, endpoint: str, p256dh: str, auth: str, payload: str, item: Outgoing
    ) -> tuple[str, str | None]:
        from pywebpush import WebPushException, webpush

        try:
            webpush(
                {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                data=payload,
                vapid_private_key=_vapid(self._private or ""),
                vapid_claims={"sub": self._subject},  # a new dict: webpush() fills in aud, exp
                ttl=TTL_SECONDS,
                timeout=self._timeout,
                headers={"Urgency": "high" if item.urgent else "normal"},
                requests_session=_NoRedirects(),
            )
        except WebPushException as exc:
            code = exc.response.status_code if exc.response is not None else None
            if code in _GONE:
                return "gone", None
            return "retry", f"push service answered {code}"
        except requests.RequestException as exc:
            # Never the endpoint's path: it is the browser's push capability.
            return "retry", f"{type(exc).__name__} reaching {urlsplit(endpoint).hostname}"
        return "sent", None
