"""Sign-in throttling kept in PostgreSQL, so it holds across every Function instance.

What is counted is the *subject* of an attempt: the account the address resolved to (by
PostgreSQL's `lower(email)`, the unique index's expression, so every spelling or case mapping
of one address is one subject), or, for an address with no account, the address as the database
normalises it (`lower(btrim(...))`, computed in SQL, never in Python). Three limits, each chosen
so that the owner of an account cannot be locked out by someone else:

- per (subject, client address): MAX_FAILURES failures within WINDOW answer 429 until the oldest
  of them leaves the window. Guessing from one address is stopped; the owner at another address
  is not affected. A success from that address starts its count again.
- per subject, from every address: beyond ACCOUNT_SLOWDOWN_AFTER failures within WINDOW the
  account accepts at most one attempt every ACCOUNT_SLOWDOWN_SECONDS (429 with the seconds left).
  This slows a distributed guesser to a crawl but never locks: the owner waits a few seconds.
  A success for the account ends the slowdown.
- per client address, across subjects: LOGIN_FAILURES_PER_ADDRESS failures (30 by default)
  within WINDOW answer 429, so one client cannot try a password against any number of accounts.

An attempt is *reserved* before the password is verified: `reserve` checks the limits and
inserts the attempt as a failure in one short transaction, under advisory locks on the subject
and the address; the password is verified with no transaction open; `record_success` then marks
the attempt succeeded. Concurrent attempts therefore see each other's reservations and cannot
exceed a limit at all; an attempt whose process dies before verifying counts as a failure.
Attempts refused by the throttle are not recorded, so hammering a locked subject does not extend
its lock.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, TypedDict

from shared.auth.users_repository import EMAIL_KEY
from shared.config import get_settings
from shared.db import Cursor
from shared.errors import RateLimitedError

#: Failures per (account, client address) within WINDOW: a person mistyping gets five tries.
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
#: Failures per account from every address within WINDOW after which the account slows down:
#: four times MAX_FAILURES, i.e. at least four addresses guessing at it.
ACCOUNT_SLOWDOWN_AFTER = 20
#: While slowed down, at most one attempt per account this often: about 90 guesses in WINDOW
#: for a whole botnet, and at most this many seconds of waiting for the owner.
ACCOUNT_SLOWDOWN_SECONDS = 10


def address_max_failures() -> int:
    """Failures from one client address across all accounts within WINDOW before it gets 429
    (the setting LOGIN_FAILURES_PER_ADDRESS, 30 by default: see shared.config)."""
    return get_settings().login_failures_per_address


_LOCK_NAMESPACE = 0x4C4F47  # "LOG": keeps these advisory locks apart from other jobs'
_ADDRESS_LOCK_NAMESPACE = 0x4C4F48

#: The typed address of an attempt as the account lookup normalises it (one definition).
EMAIL_KEY_SQL = EMAIL_KEY


class Subject(TypedDict):
    """Whom an attempt is counted against: an account, or the address typed for none."""

    user_id: int | None
    email: str


def _subject_condition(subject: Subject) -> str:
    if subject["user_id"] is not None:
        return "user_id = %(user_id)s"
    return f"user_id IS NULL AND email_normalized = {EMAIL_KEY_SQL}"


def _params(subject: Subject, client_ip: str | None) -> dict[str, Any]:
    return {
        "user_id": subject["user_id"],
        "email": subject["email"],
        "ip": client_ip,
        "window": WINDOW,
    }


def _lock(cur: Cursor, subject: Subject, client_ip: str | None) -> None:
    """Serialise reservations for the subject, then for the address (always in this order)."""
    key = f"user:{subject['user_id']}" if subject["user_id"] is not None else None
    cur.execute(
        f"SELECT pg_advisory_xact_lock(%(ns)s, hashtext(coalesce(%(key)s, {EMAIL_KEY_SQL})))",
        {"ns": _LOCK_NAMESPACE, "key": key, "email": subject["email"]},
    )
    if client_ip is not None:
        cur.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_ADDRESS_LOCK_NAMESPACE, client_ip)
        )


def _retry_after(seconds: Any) -> int:
    return max(1, math.ceil(float(seconds)))


def _check_subject_at_address(cur: Cursor, subject: Subject, client_ip: str | None) -> None:
    condition = _subject_condition(subject)
    cur.execute(
        f"""
        SELECT count(*) AS failures,
               extract(epoch FROM min(attempted_at) + %(window)s - now()) AS retry_after
        FROM (
            SELECT attempted_at FROM login_attempts
            WHERE {condition}
              AND client_ip IS NOT DISTINCT FROM %(ip)s::inet
              AND NOT succeeded
              AND attempted_at > now() - %(window)s
              AND attempted_at > coalesce(
                  (SELECT max(attempted_at) FROM login_attempts
                   WHERE {condition} AND client_ip IS NOT DISTINCT FROM %(ip)s::inet
                     AND succeeded),
                  '-infinity')
            ORDER BY attempted_at DESC
            LIMIT %(limit)s
        ) recent
        """,  # noqa: S608  (constant conditions)
        {**_params(subject, client_ip), "limit": MAX_FAILURES},
    )
    row = cur.fetchone()
    assert row is not None  # an aggregate always returns one row
    if row["failures"] >= MAX_FAILURES:
        raise RateLimitedError(
            "Too many failed sign-ins for this account from this address; try again later.",
            retry_after=_retry_after(row["retry_after"]),
        )


def _check_subject(cur: Cursor, subject: Subject) -> None:
    condition = _subject_condition(subject)
    cur.execute(
        f"""
        WITH recent AS (
            SELECT attempted_at, succeeded FROM login_attempts
            WHERE {condition} AND attempted_at > now() - %(window)s
        )
        SELECT count(*) FILTER (
                   WHERE NOT succeeded AND attempted_at > coalesce(
                       (SELECT max(attempted_at) FROM recent WHERE succeeded), '-infinity')
               ) AS failures,
               extract(epoch FROM max(attempted_at) + %(pace)s - now()) AS retry_after
        FROM recent
        """,  # noqa: S608  (constant conditions)
        {
            **_params(subject, None),
            "pace": timedelta(seconds=ACCOUNT_SLOWDOWN_SECONDS),
        },
    )
    row = cur.fetchone()
    assert row is not None
    if row["failures"] >= ACCOUNT_SLOWDOWN_AFTER and float(row["retry_after"]) > 0:
        raise RateLimitedError(
            "Many failed sign-ins for this account; it accepts one attempt every"
            f" {ACCOUNT_SLOWDOWN_SECONDS} seconds for now.",
            retry_after=_retry_after(row["retry_after"]),
        )


def _check_address(cur: Cursor, client_ip: str | None) -> None:
    if client_ip is None:
        return
    cur.execute(
        """
        SELECT count(*) AS failures,
               extract(epoch FROM min(attempted_at) + %(window)s - now()) AS retry_after
        FROM (
            SELECT attempted_at FROM login_attempts
            WHERE client_ip = %(ip)s::inet AND NOT succeeded
              AND attempted_at > now() - %(window)s
            ORDER BY attempted_at DESC
            LIMIT %(limit)s
        ) recent
        """,
        {"ip": client_ip, "window": WINDOW, "limit": address_max_failures()},
    )
    row = cur.fetchone()
    assert row is not None
    if row["failures"] >= address_max_failures():
        raise RateLimitedError(
            "Too many failed sign-ins from this address; try again later.",
            retry_after=_retry_after(row["retry_after"]),
        )


def reserve(cur: Cursor, subject: Subject, *, client_ip: str | None) -> int:
    """Check every limit (429 with Retry-After) and record the attempt as a failure; its id.

    Call inside a short transaction and commit it before verifying the password.
    """
    _lock(cur, subject, client_ip)
    _check_subject_at_address(cur, subject, client_ip)
    _check_subject(cur, subject)
    _check_address(cur, client_ip)
    cur.execute(
        "INSERT INTO login_attempts (email_normalized, user_id, succeeded, client_ip)"  # noqa: S608
        f" VALUES ({EMAIL_KEY_SQL}, %(user_id)s, false, %(ip)s) RETURNING attempt_id",
        _params(subject, client_ip),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["attempt_id"])


def record_success(cur: Cursor, attempt_id: int) -> None:
    """The reserved attempt succeeded: it resets the counts it belongs to."""
    cur.execute("UPDATE login_attempts SET succeeded = true WHERE attempt_id = %s", (attempt_id,))


def prune_expired(cur: Cursor) -> int:
    """Delete attempts older than the window (db_maintenance); the number deleted."""
    cur.execute("DELETE FROM login_attempts WHERE attempted_at < now() - %s", (WINDOW * 2,))
    return int(cur.rowcount)
