"""The in-app inbox: a `notifications` row, written in the sender's claim transaction.

`outbox_id` is unique in `notifications`, so writing the same outbox row twice inserts once: the
inbox is delivered exactly once whatever happens to the sender. In-app entries ignore quiet
hours (an inbox entry disturbs nobody).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg2.extras import Json

from models.vocabularies import NotificationEvent
from shared.db import Cursor
from shared.notifications.messages import Message

_INSERT = """
INSERT INTO notifications (outbox_id, user_id, event_type, patient_id, title, body, data)
VALUES (%(outbox_id)s, %(user_id)s, %(event)s, %(patient_id)s, %(title)s, %(body)s, %(data)s)
ON CONFLICT (outbox_id) DO NOTHING
"""

#: The facts of an event the inbox keeps beside its text (links in the app); nothing else.
_LINK_KEYS = ("visit_id", "incident_id", "correction_id", "report_id", "record_id", "month")


def write(
    cur: Cursor,
    *,
    outbox_id: int,
    user_id: int,
    event: NotificationEvent,
    patient_id: int | None,
    message: Message,
    data: Mapping[str, Any],
) -> None:
    cur.execute(
        _INSERT,
        {
            "outbox_id": outbox_id,
            "user_id": user_id,
            "event": event.value,
            "patient_id": patient_id,
            "title": message.title,
            "body": message.body,
            "data": Json({key: data[key] for key in _LINK_KEYS if data.get(key) is not None}),
        },
    )
