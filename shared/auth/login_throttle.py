"""Login throttling kept in PostgreSQL, so it holds across every Function instance.

Five failed sign-ins for one email within 15 minutes lock that email until the oldest of those
five leaves the window; a successful sign-in starts the count again. Attempts refused by the
throttle are not recorded, so hammering a locked email does not extend its lock. Each check and
its record run under a transaction-scoped advisory lock on the email, so concurrent attempts
cannot all slip past the limit.
"""

from __future__ import annotations

import math
from datetime import timedelta

from shared.db import Cursor
from shared.errors import RateLimitedError

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
_LOCK_NAMESPACE = 0x4C4F47  # "LOG": keeps these advisory locks apart from other jobs'


def normalize_email(email: str) -> str:
    return email.strip().lower()


def lock_email(cur: Cursor, email: str) -> None:
    """Serialise attempts for one email until the transaction ends."""
    cur.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, normalize_email(email))
    )


def check_not_locked(cur: Cursor, email: str) -> None:
    """Raise 429 with Retry-After when the email has MAX_FAILURES recent failures."""
    cur.execute(
        """
        SELECT count(*) AS failures,
               min(attempted_at) AS oldest,
               extract(epoch FROM min(attempted_at) + %(window)s - now()) AS retry_after
        FROM (
            SELECT attempted_at FROM login_attempts
            WHERE email_normalized = %(email)s
              AND NOT succeeded
              AND attempted_at > now() - %(window)s
              AND attempted_at > coalesce(
                  (SELECT max(attempted_at) FROM login_attempts
                   WHERE email_normalized = %(email)s AND succeeded),
                  '-infinity')
            ORDER BY attempted_at DESC
            LIMIT %(limit)s
        ) recent
        """,
        {"email": normalize_email(email), "window": WINDOW, "limit": MAX_FAILURES},
    )
    row = cur.fetchone()
    assert row is not None  # an aggregate always returns one row
    if row["failures"] >= MAX_FAILURES:
        retry_after = max(1, math.ceil(float(row["retry_after"])))
        raise RateLimitedError(
            "Too many failed sign-ins for this email; try again later.", retry_after=retry_after
        )


def record_attempt(cur: Cursor, email: str, *, succeeded: bool, client_ip: str | None) -> None:
    cur.execute(
        "INSERT INTO login_attempts (email_normalized, succeeded, client_ip) VALUES (%s, %s, %s)",
        (normalize_email(email), succeeded, client_ip),
    )


def prune_expired(cur: Cursor) -> int:
    """Delete attempts older than the window (db_maintenance); the number deleted."""
    cur.execute("DELETE FROM login_attempts WHERE attempted_at < now() - %s", (WINDOW * 2,))
    return int(cur.rowcount)
