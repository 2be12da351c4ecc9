"""Late and missed visits: what the `visit_watch` timer does every five minutes.

- A `planned` visit with no check-in by its planned start plus `VISIT_LATE_AFTER_MINUTES` (and
  still before its planned end) gets `late_at` and publishes `visit_late` to the guardian and
  the operators. It stays `planned`: the caregiver may still check in.
- A `planned` visit with no check-in by its planned end becomes `missed` (`missed_at`) and
  publishes `visit_missed` to both. A visit found only after its end (the timer was down) is
  missed without being late first.

Safe on many instances and overlapping runs: each batch is one conditional
`UPDATE ... RETURNING` over rows picked `FOR UPDATE SKIP LOCKED` (a second run skips the rows
the first holds and, once those commit, no longer matches them), its notices are written in the
same transaction, and the outbox's dedupe key (`visit:<id>:late`, `visit:<id>:missed`) makes a
notice once per visit and event whatever happens. Batches are bounded (`batch_size` rows per
transaction) and a run stops after `max_batches`, leaving the rest for the next run.

The clock is the server's: the trigger passes `now` (tests pass their own). Each change is
audited as the timer (`SystemActor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from models.vocabularies import NotificationEvent
from shared.audit import AuditAction, SystemActor
from shared.audit import record_many as audit_record_many
from shared.db import Cursor
from shared.notifications.outbox import Notice, publish
from shared.unit_of_work import UnitOfWork

TIMER_NAME = "visit_watch"
RESOURCE = "visit"


class WatchedVisit(TypedDict):
    visit_id: int
    patient_id: int
    caregiver_name: str | None
    planned_start: datetime
    planned_end: datetime


@dataclass(frozen=True)
class WatchResult:
    late: int
    missed: int
    notifications: int
    batches: int
    complete: bool

    def as_log(self) -> dict[str, Any]:
        return {
            "late": self.late,
            "missed": self.missed,
            "notifications": self.notifications,
            "batches": self.batches,
            "complete": self.complete,
        }


_MARK_LATE = """
WITH due AS (
    SELECT visit_id FROM visits
    WHERE status = 'planned' AND check_in_at IS NULL AND late_at IS NULL
      AND planned_start <= %(late_before)s AND planned_end > %(now)s
    ORDER BY planned_start
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE visits v SET late_at = %(now)s
    FROM due
    WHERE v.visit_id = due.visit_id
      AND v.status = 'planned' AND v.check_in_at IS NULL AND v.late_at IS NULL
    RETURNING v.visit_id, v.patient_id, v.caregiver_id, v.planned_start, v.planned_end
)
SELECT m.visit_id, m.patient_id, u.name AS caregiver_name, m.planned_start, m.planned_end
FROM marked m
LEFT JOIN caregivers c ON c.caregiver_id = m.caregiver_id
LEFT JOIN users u ON u.user_id = c.user_id
ORDER BY m.planned_start, m.visit_id
"""

_MARK_MISSED = """
WITH due AS (
    SELECT visit_id FROM visits
    WHERE status = 'planned' AND check_in_at IS NULL AND planned_end <= %(now)s
      -- implied (a visit ends after it starts), and lets visits_open_planned_idx range-scan
      AND planned_start < %(now)s
    ORDER BY planned_start
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE visits v SET status = 'missed', missed_at = %(now)s
    FROM due
    WHERE v.visit_id = due.visit_id AND v.status = 'planned' AND v.check_in_at IS NULL
    RETURNING v.visit_id, v.patient_id, v.caregiver_id, v.planned_start, v.planned_end
)
SELECT m.visit_id, m.patient_id, u.name AS caregiver_name, m.planned_start, m.planned_end
FROM marked m
LEFT JOIN caregivers c ON c.caregiver_id = m.caregiver_id
LEFT JOIN users u ON u.user_id = c.user_id
ORDER BY m.planned_start, m.visit_id
"""


def mark_late(cur: Cursor, *, now: datetime, late_after: timedelta, limit: int) -> list[Any]:
    """Set `late_at` on up to `limit` planned visits not checked into `late_after` past their
    start (and not yet past their end); the rows changed."""
    cur.execute(_MARK_LATE, {"now": now, "late_before": now - late_after, "limit": limit})
    return list(cur.fetchall())


def mark_missed(cur: Cursor, *, now: datetime, limit: int) -> list[Any]:
    """Make up to `limit` planned visits never checked into by their end `missed`; the rows."""
    cur.execute(_MARK_MISSED, {"now": now, "limit": limit})
    return list(cur.fetchall())


def _notice(event: NotificationEvent, row: WatchedVisit, now: datetime) -> Notice:
    phase = event.value.removeprefix("visit_")
    return Notice(
        event,
        key=f"visit:{row['visit_id']}:{phase}",
        patient_id=row["patient_id"],
        data={
            "visit_id": row["visit_id"],
            "caregiver_name": row["caregiver_name"],
            "planned_start": row["planned_start"].isoformat(),
            "planned_end": row["planned_end"].isoformat(),
            f"{phase}_at": now.isoformat(),
        },
        to_guardian=True,
        to_operators=True,
    )


def _settle(
    uow: UnitOfWork, event: NotificationEvent, rows: list[Any], now: datetime, field: str
) -> int:
    """Publish each changed visit's notice and audit the change, in the batch's transaction."""
    sent = 0
    for row in rows:
        sent += publish(uow, _notice(event, row, now))
    if rows:
        audit_record_many(
            uow.cursor,
            SystemActor.timer(TIMER_NAME),
            AuditAction.UPDATE,
            RESOURCE,
            [(row["patient_id"], row["visit_id"]) for row in rows],
            detail={"fields": [field]},
        )
    return sent


def watch_visits(
    uow: UnitOfWork,
    *,
    now: datetime,
    late_after: timedelta,
    batch_size: int = 200,
    max_batches: int = 50,
) -> WatchResult:
    """Mark late and missed visits as of `now` (module docstring). Each batch commits on its
    own, so a run that dies keeps what it finished and the next run does the rest."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    late = missed = sent = batches = 0
    complete = False
    while batches < max_batches:
        batches += 1
        # Missed first: a visit past its end is never marked late on the way.
        missed_rows = mark_missed(uow.cursor, now=now, limit=batch_size)
        sent += _settle(uow, NotificationEvent.VISIT_MISSED, missed_rows, now, "status")
        late_rows = mark_late(uow.cursor, now=now, late_after=late_after, limit=batch_size)
        sent += _settle(uow, NotificationEvent.VISIT_LATE, late_rows, now, "late_at")
        uow.commit()
        late += len(late_rows)
        missed += len(missed_rows)
        if len(missed_rows) < batch_size and len(late_rows) < batch_size:
            complete = True
            break
    return WatchResult(late, missed, sent, batches, complete)
