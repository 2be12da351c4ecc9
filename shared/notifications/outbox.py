"""Publish an event to the people who should hear of it: rows in the outbox, in the caller's
transaction.

`publish(uow, notice)` writes one `notification_outbox` row per (recipient, channel) in the unit
of work's open transaction, so the notice commits exactly when the event it tells of does and is
rolled back with it. Nothing is sent here: the sender (shared.notifications.sender, a
queue-triggered function and a sweeping timer) delivers due rows later, with retries, and an
outage of a channel loses nothing. Publishing the same notice twice writes nothing the second
time (`dedupe_key`).

Recipients: the patient's guardian (`to_guardian`) and every active operator (`to_operators`).
Channels: the recipient's preference for the event (`notification_preferences.channels`, a JSON
object of event -> list of channels) or else `DEFAULT_CHANNELS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg2.extras import Json

from models.vocabularies import NotificationChannel, NotificationEvent

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

_ALL = [channel.value for channel in NotificationChannel]
_APP_AND_PUSH = [NotificationChannel.IN_APP.value, NotificationChannel.WEB_PUSH.value]

#: Channels of an event for a recipient who has not said otherwise.
DEFAULT_CHANNELS: Mapping[NotificationEvent, list[str]] = {
    NotificationEvent.VISIT_CHECK_IN: _APP_AND_PUSH,
    NotificationEvent.VISIT_CHECK_OUT: _APP_AND_PUSH,
    NotificationEvent.VISIT_LATE: _ALL,
    NotificationEvent.VISIT_MISSED: _ALL,
    NotificationEvent.VISIT_CANCELLED: _ALL,
    NotificationEvent.INCIDENT: _ALL,
    NotificationEvent.CARE_REPORT_READY: _ALL,
    NotificationEvent.CORRECTION_PENDING: _APP_AND_PUSH,
    NotificationEvent.BENEFIT_CAP_80: _APP_AND_PUSH,
    NotificationEvent.BENEFIT_CAP_100: _ALL,
}


@dataclass(frozen=True)
class Notice:
    """An event worth telling people about.

    `key` names the occurrence (e.g. ``visit:42:check_in``): a notice with the same event and key
    is published once. `data` holds the facts the message is written from (JSON-safe, no
    secrets). `urgent` notices ignore quiet hours (incidents).
    """

    event: NotificationEvent
    key: str
    patient_id: int | None
    data: Mapping[str, Any] = field(default_factory=dict)
    urgent: bool = False
    to_guardian: bool = True
    to_operators: bool = False


_INSERT = """
WITH recipients AS (
    SELECT g.user_id
    FROM patients p JOIN guardians g ON g.guardian_id = p.guardian_id
    JOIN users u ON u.user_id = g.user_id
    WHERE %(to_guardian)s AND p.patient_id = %(patient_id)s
      AND u.is_active AND u.deleted_at IS NULL
    UNION
    SELECT u.user_id FROM users u
    WHERE %(to_operators)s AND u.role = 'admin' AND u.is_active AND u.deleted_at IS NULL
),
wanted AS (
    SELECT r.user_id, c.channel
    FROM recipients r
    LEFT JOIN notification_preferences np ON np.user_id = r.user_id
    CROSS JOIN LATERAL jsonb_array_elements_text(
        coalesce(np.channels -> %(event)s, %(default_channels)s::jsonb)
    ) AS c(channel)
    WHERE c.channel = ANY(%(known_channels)s)
)
INSERT INTO notification_outbox
    (dedupe_key, event_type, patient_id, recipient_user_id, channel, urgent, payload)
SELECT %(event)s || ':' || %(key)s || ':' || w.user_id || ':' || w.channel,
       %(event)s, %(patient_id)s, w.user_id, w.channel, %(urgent)s, %(payload)s
FROM wanted w
ON CONFLICT (dedupe_key) DO NOTHING
"""


def publish(uow: UnitOfWork, notice: Notice) -> int:
    """Write the notice's outbox rows in the unit's transaction; the number of new rows."""
    event = NotificationEvent(notice.event)
    uow.cursor.execute(
        _INSERT,
        {
            "event": event.value,
            "key": notice.key,
            "patient_id": notice.patient_id,
            "to_guardian": notice.to_guardian and notice.patient_id is not None,
            "to_operators": notice.to_operators,
            "default_channels": Json(DEFAULT_CHANNELS[event]),
            "known_channels": _ALL,
            "urgent": notice.urgent,
            "payload": Json(dict(notice.data)),
        },
    )
    return int(uow.cursor.rowcount)
