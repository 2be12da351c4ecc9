"""Per-user limits on costly actions: fixed one-hour windows counted in PostgreSQL.

AI writing (care plans, meal plans, care-report summaries, the personality test's analysis) may
hold Azure OpenAI for two timeouts per call, and a matching request runs the filters, features
and model over every caregiver: each is limited per signed-in user and hour (settings
`RATE_LIMIT_AI_PER_HOUR`, `RATE_LIMIT_MATCHING_PER_HOUR`). The counters live in the table
`ops_rate_limits` (subject, action, window_start) -> hits, so every instance of the app counts
against the same number; one statement (`INSERT ... ON CONFLICT DO UPDATE SET hits = hits + 1
RETURNING hits`) both counts and reads, so concurrent calls never count twice nor lose a hit:
with a limit of N, N + k concurrent calls see hits 1 .. N + k and exactly N are allowed.

When a call is counted (`charge`):

- after the caller is authorised and the input validated (a refused or unauthorised call costs
  one cheap read, not a hit), and before the costly work, so a call over the limit never reaches
  Azure OpenAI or the matching model;
- in a short transaction of its own, committed at once, before the work begins. The count
  therefore stands whatever the work does afterwards: a call that fails later (AI timing out,
  a conflict, a patient deleted meanwhile) still counted, so a caller cannot dodge the limit by
  making its work fail, and no connection is held while the work runs;
- calls refused with 429 are counted too (hits above the limit): the window's counter shows
  how hard a caller pushed, and the answer is the same until the window ends.

The answer over the limit is 429 `rate_limited` with `Retry-After`: the seconds until the
window ends. Windows are aligned to the epoch in the database's clock (one clock for every
instance). Counters are operations state, not data: `prune_expired` deletes windows that ended
more than a day ago (database maintenance calls it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict, cast

from shared.config import get_settings
from shared.db import Cursor
from shared.errors import RateLimitedError
from shared.unit_of_work import UnitOfWork

#: Length of one counting window, in seconds (the settings are "per hour").
WINDOW_SECONDS = 3600

#: Windows that ended longer ago than this are deleted by `prune_expired`.
KEEP_SECONDS = 24 * 3600


class LimitedAction(StrEnum):
    """What is counted (the `action` column); each has its own budget per user and window."""

    AI_WRITING = "ai_writing"
    MATCHING_REQUEST = "matching_request"


#: How each action is named to the caller in the 429's detail.
DESCRIPTIONS: dict[LimitedAction, str] = {
    LimitedAction.AI_WRITING: (
        "AI writing (care plans, meal plans, care reports and the personality test share it)"
    ),
    LimitedAction.MATCHING_REQUEST: "matching requests",
}


def limit_for(action: LimitedAction) -> int:
    """The action's allowance per user and window, from the settings."""
    settings = get_settings()
    if action is LimitedAction.AI_WRITING:
        return settings.rate_limit_ai_per_hour
    return settings.rate_limit_matching_per_hour


class HitRow(TypedDict):
    hits: int
    window_start: datetime
    retry_after: float


@dataclass(frozen=True)
class Hit:
    """One counted call: the window's count including it, and the seconds the window has left."""

    hits: int
    window_start: datetime
    retry_after: int


def hit(
    cur: Cursor,
    subject: str,
    action: str,
    *,
    window_seconds: int = WINDOW_SECONDS,
    at: datetime | None = None,
) -> Hit:
    """Count one call of `action` by `subject` in the current window (the database's clock, or
    `at`) and return the window's count including it. One atomic statement."""
    cur.execute(
        """
        WITH clock AS (
            SELECT coalesce(%(at)s::timestamptz, clock_timestamp()) AS now
        ), bucket AS (
            SELECT now,
                   to_timestamp(floor(extract(epoch FROM now) / %(seconds)s) * %(seconds)s)
                       AS window_start
            FROM clock
        )
        INSERT INTO ops_rate_limits AS counter (subject, action, window_start, hits)
        SELECT %(subject)s, %(action)s, window_start, 1 FROM bucket
        ON CONFLICT (subject, action, window_start)
            DO UPDATE SET hits = counter.hits + 1
        RETURNING counter.hits, counter.window_start,
                  extract(epoch FROM counter.window_start
                                     + make_interval(secs => %(seconds)s)
                                     - (SELECT now FROM bucket))::float8 AS retry_after
        """,
        {"at": at, "seconds": window_seconds, "subject": subject, "action": action},
    )
    row = cast(HitRow | None, cur.fetchone())
    assert row is not None  # INSERT ... RETURNING always answers one row
    return Hit(
        hits=int(row["hits"]),
        window_start=row["window_start"],
        retry_after=max(1, math.ceil(row["retry_after"])),
    )


def charge(uow: UnitOfWork, action: LimitedAction) -> None:
    """Count one call of `action` by the signed-in user, in a transaction of its own that is
    committed before this returns; 429 (`RateLimitedError`, `Retry-After` until the window
    ends) when that makes more than the user's allowance in this window.

    Call it with no transaction open (commit the authorisation's first), after the caller is
    authorised and before the costly work; the work's next use of `uow.cursor` begins a new
    transaction (authorise again there)."""
    if uow.in_transaction:
        raise RuntimeError("charge() counts in a transaction of its own: commit the open one first")
    limit = limit_for(action)
    subject = f"user:{uow.principal.user_id}"
    cur = uow.begin()
    try:
        counted = hit(cur, subject, str(action))
    except BaseException:
        uow.rollback()
        raise
    uow.commit()  # the count stands whatever the work does next
    if counted.hits > limit:
        raise RateLimitedError(
            f"Too many {DESCRIPTIONS[action]}: at most {limit} an hour per account. "
            f"Please try again in {_wait(counted.retry_after)}.",
            retry_after=counted.retry_after,
        )


def prune_expired(cur: Cursor, *, keep_seconds: int = KEEP_SECONDS) -> int:
    """Delete counters of windows that started more than `keep_seconds` ago (a day: well past
    the end of every window); how many were deleted. Database maintenance calls it."""
    cur.execute(
        "DELETE FROM ops_rate_limits"
        " WHERE window_start < clock_timestamp() - make_interval(secs => %s)",
        (keep_seconds,),
    )
    return cur.rowcount


def _wait(seconds: int) -> str:
    """'N minutes' or 'N seconds', for the 429's detail (Retry-After has the exact number)."""
    if seconds >= 120:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{seconds} seconds"
