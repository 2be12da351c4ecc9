"""All SQL of notifications: the outbox's claims and settlements, the inbox, preferences and
push subscriptions. Rows are TypedDicts; every statement takes the caller's cursor."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, TypedDict

from psycopg2.extras import Json

from shared.db import Cursor
from shared.integrity import FieldRule, register_constraints

register_constraints(
    {
        "push_subscriptions_endpoint_check": FieldRule("endpoint"),
        "push_subscriptions_p256dh_check": FieldRule("keys"),
        "push_subscriptions_auth_check": FieldRule("keys", "auth"),
        "notification_preferences_time_zone_check": FieldRule("time_zone"),
    }
)


class DueRow(TypedDict):
    outbox_id: int
    event_type: str
    patient_id: int | None
    recipient_user_id: int
    channel: str
    urgent: bool
    payload: dict[str, Any]
    attempts: int
    patient_name: str | None
    email: str | None
    quiet_start: time | None
    quiet_end: time | None
    time_zone: str | None


# -- the sender ---------------------------------------------------------------------------------

_CLAIM = """
SELECT o.outbox_id, o.event_type, o.patient_id, o.recipient_user_id, o.channel, o.urgent,
       o.payload, o.attempts, p.name AS patient_name, u.email,
       np.quiet_start, np.quiet_end, np.time_zone
FROM notification_outbox o
JOIN users u ON u.user_id = o.recipient_user_id
LEFT JOIN patients p ON p.patient_id = o.patient_id
LEFT JOIN notification_preferences np ON np.user_id = o.recipient_user_id
WHERE o.status = 'pending' AND o.next_attempt_at <= now()
ORDER BY o.urgent DESC, o.next_attempt_at, o.outbox_id
LIMIT %(limit)s
FOR UPDATE OF o SKIP LOCKED
"""


def claim_due(cur: Cursor, limit: int) -> list[DueRow]:
    """Due rows no other sender holds, locked until the caller's transaction ends."""
    cur.execute(_CLAIM, {"limit": limit})
    return list(cur.fetchall())  # type: ignore[arg-type]


def db_now(cur: Cursor) -> datetime:
    cur.execute("SELECT now() AS now")
    row = cur.fetchone()
    assert row is not None
    return row["now"]  # type: ignore[no-any-return]


def lease(cur: Cursor, outbox_id: int, seconds: float) -> int:
    """Count the attempt and hide the row for `seconds` while it is sent; the attempt number."""
    cur.execute(
        """
        UPDATE notification_outbox
        SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => %(s)s)
        WHERE outbox_id = %(id)s
        RETURNING attempts
        """,
        {"id": outbox_id, "s": seconds},
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["attempts"])


def defer(cur: Cursor, outbox_id: int, until: datetime) -> None:
    """Quiet hours: try again at `until`, without counting an attempt."""
    cur.execute(
        "UPDATE notification_outbox SET next_attempt_at = %(until)s WHERE outbox_id = %(id)s",
        {"id": outbox_id, "until": until},
    )


def settle(
    cur: Cursor,
    outbox_id: int,
    attempt: int,
    *,
    status: str,
    error: str | None = None,
    retry_in: float | None = None,
) -> bool:
    """Record the outcome of `attempt`; False when the row moved on (another sender's lease).

    `status` pending with `retry_in` schedules the next attempt.
    """
    cur.execute(
        """
        UPDATE notification_outbox
        SET status = %(status)s,
            sent_at = CASE WHEN %(status)s = 'sent' THEN now() END,
            last_error = %(error)s,
            next_attempt_at = CASE WHEN %(retry_in)s::float8 IS NULL THEN next_attempt_at
                                   ELSE now() + make_interval(secs => %(retry_in)s::float8) END
        WHERE outbox_id = %(id)s AND status = 'pending' AND attempts = %(attempt)s
        """,
        {
            "id": outbox_id,
            "attempt": attempt,
            "status": status,
            "error": error[:1000] if error else None,
            "retry_in": retry_in,
        },
    )
    return cur.rowcount == 1


def push_targets(cur: Cursor, user_id: int) -> list[dict[str, Any]]:
    cur.execute(
        """
        SELECT subscription_id, endpoint, p256dh, auth FROM push_subscriptions
        WHERE user_id = %(user_id)s ORDER BY subscription_id
        """,
        {"user_id": user_id},
    )
    return [dict(row) for row in cur.fetchall()]


def delete_subscriptions(cur: Cursor, subscription_ids: list[int]) -> int:
    cur.execute(
        "DELETE FROM push_subscriptions WHERE subscription_id = ANY(%(ids)s)",
        {"ids": subscription_ids},
    )
    return int(cur.rowcount)


def overdue_count(cur: Cursor, minutes: int = 5) -> int:
    """Pending rows due more than `minutes` ago: the sweep is not keeping up (partial index)."""
    cur.execute(
        """
        SELECT count(*) AS n FROM notification_outbox
        WHERE status = 'pending' AND next_attempt_at < now() - make_interval(mins => %(m)s)
        """,
        {"m": minutes},
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["n"])


# -- the inbox ----------------------------------------------------------------------------------

_INBOX_COLUMNS = """
notification_id, event_type, patient_id, title, body, data, read_at, created_at
"""


def list_inbox(
    cur: Cursor, user_id: int, *, unread: bool, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int, int]:
    """A page of the user's inbox, newest first; the page, its total, and the unread count."""
    params = {"user_id": user_id, "unread": unread, "limit": limit, "offset": offset}
    cur.execute(
        f"""
        SELECT {_INBOX_COLUMNS} FROM notifications
        WHERE user_id = %(user_id)s AND (NOT %(unread)s OR read_at IS NULL)
        ORDER BY created_at DESC, notification_id DESC
        LIMIT %(limit)s OFFSET %(offset)s
        """,  # noqa: S608  (constant SQL)
        params,
    )
    items = [dict(row) for row in cur.fetchall()]
    cur.execute(
        """
        SELECT count(*) AS total, count(*) FILTER (WHERE read_at IS NULL) AS unread
        FROM notifications
        WHERE user_id = %(user_id)s AND (NOT %(unread)s OR read_at IS NULL)
        """,
        params,
    )
    row = cur.fetchone()
    assert row is not None
    if unread:
        return items, int(row["total"]), int(row["total"])
    return items, int(row["total"]), int(row["unread"])


def mark_read(cur: Cursor, user_id: int, notification_id: int) -> dict[str, Any] | None:
    cur.execute(
        f"""
        UPDATE notifications SET read_at = coalesce(read_at, now())
        WHERE notification_id = %(id)s AND user_id = %(user_id)s
        RETURNING {_INBOX_COLUMNS}
        """,  # noqa: S608  (constant SQL)
        {"id": notification_id, "user_id": user_id},
    )
    row = cur.fetchone()
    return dict(row) if row else None


def mark_all_read(cur: Cursor, user_id: int) -> int:
    cur.execute(
        """
        UPDATE notifications SET read_at = now()
        WHERE user_id = %(user_id)s AND read_at IS NULL
        """,
        {"user_id": user_id},
    )
    return int(cur.rowcount)


# -- preferences and subscriptions ---------------------------------------------------------------


def get_preferences(cur: Cursor, user_id: int) -> dict[str, Any] | None:
    cur.execute(
        """
        SELECT channels, quiet_start, quiet_end, time_zone, updated_at
        FROM notification_preferences WHERE user_id = %(user_id)s
        """,
        {"user_id": user_id},
    )
    row = cur.fetchone()
    return dict(row) if row else None


def put_preferences(
    cur: Cursor,
    user_id: int,
    *,
    channels: dict[str, list[str]],
    quiet_start: time,
    quiet_end: time,
    time_zone: str,
) -> dict[str, Any]:
    cur.execute(
        """
        INSERT INTO notification_preferences (user_id, channels, quiet_start, quiet_end, time_zone)
        VALUES (%(user_id)s, %(channels)s, %(quiet_start)s, %(quiet_end)s, %(time_zone)s)
        ON CONFLICT (user_id) DO UPDATE SET
            channels = EXCLUDED.channels, quiet_start = EXCLUDED.quiet_start,
            quiet_end = EXCLUDED.quiet_end, time_zone = EXCLUDED.time_zone
        RETURNING channels, quiet_start, quiet_end, time_zone, updated_at
        """,
        {
            "user_id": user_id,
            "channels": Json(channels),
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
            "time_zone": time_zone,
        },
    )
    row = cur.fetchone()
    assert row is not None
    return dict(row)


_SUBSCRIPTION_COLUMNS = "subscription_id, endpoint, created_at"


def upsert_subscription(
    cur: Cursor, user_id: int, *, endpoint: str, p256dh: str, auth: str
) -> tuple[dict[str, Any], bool] | None:
    """Register a browser's endpoint for the user; the row and whether it is new to the user,
    or None when another account holds the endpoint with other keys.

    The user's own endpoint takes the keys sent now. Another account's moves to the caller only
    with the same p256dh and auth (the same browser, a shared computer where another account
    signed in before): knowing an endpoint alone does not take its pushes away."""
    cur.execute(
        f"""
        INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth)
        VALUES (%(user_id)s, %(endpoint)s, %(p256dh)s, %(auth)s)
        ON CONFLICT (endpoint) DO UPDATE SET
            user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth
        WHERE push_subscriptions.user_id = EXCLUDED.user_id
           OR (push_subscriptions.p256dh = EXCLUDED.p256dh
               AND push_subscriptions.auth = EXCLUDED.auth)
        RETURNING {_SUBSCRIPTION_COLUMNS}, (xmax = 0) AS created
        """,  # noqa: S608  (constant SQL)
        {"user_id": user_id, "endpoint": endpoint, "p256dh": p256dh, "auth": auth},
    )
    row = cur.fetchone()
    if row is None:
        return None
    values = dict(row)
    created = bool(values.pop("created"))
    return values, created


def delete_subscription(cur: Cursor, user_id: int, subscription_id: int) -> bool:
    cur.execute(
        """
        DELETE FROM push_subscriptions
        WHERE subscription_id = %(id)s AND user_id = %(user_id)s
        """,
        {"id": subscription_id, "user_id": user_id},
    )
    return cur.rowcount == 1
