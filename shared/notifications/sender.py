"""Deliver the outbox: claim due rows, send each on its channel, settle it.

`deliver_due()` is what the queue-triggered function (a nudge on `NOTIFICATION_QUEUE`) and the
`notification_sweep` timer (every minute: the guarantee that a row never waits for a message
that was not sent) both run. It works in rounds of `NOTIFY_BATCH_SIZE` rows until nothing is
due or its time budget is spent:

1. **Claim** (one short transaction): `SELECT ... WHERE status = 'pending' AND next_attempt_at
   <= now() FOR UPDATE SKIP LOCKED`, so concurrent senders (instances, the timer and a queue
   message at once) never take the same row. In that transaction, per row:
   - `in_app`: the inbox row is written and the outbox row marked `sent` (exactly once: the inbox
     is keyed by the outbox id), whatever the hour;
   - a non-urgent `web_push`/`email` inside the recipient's quiet hours (preferences, default
     22:00-07:00 Asia/Seoul) is deferred to their end (`next_attempt_at`), not counted as an
     attempt, never dropped; urgent rows (incidents) go at once;
   - a row whose attempts are spent (its last sender died mid-send) is `failed`;
   - otherwise the row is **leased**: `attempts + 1` and `next_attempt_at = now() +
     NOTIFY_LEASE_SECONDS`, so no one else takes it while it is being sent, and it comes back
     by itself if this sender dies. The recipient's email and push subscriptions are read here.
2. **Send** with no transaction open (a slow provider holds no connection).
3. **Settle** (one transaction per row, fenced by the attempt number): `sent` (`sent_at`);
   `skipped` (no address on this channel, or the channel is not configured); `failed` (refused
   for good, or the last of `NOTIFY_MAX_ATTEMPTS`); or back to `pending` with the next attempt
   `retry_delay(attempts)` away (NOTIFY_RETRY_BASE_SECONDS doubling, at most
   NOTIFY_RETRY_MAX_SECONDS) and `last_error` (redacted). Push subscriptions the push service
   called gone (404/410) are deleted.

At most once per row and attempt; the one window for a repeat: a sender that dies after the
provider accepted a message and before its settle commits. The row then comes back when its lease
lapses and is sent again: email carries the row's id as ACS's `Operation-Id` (a repeat is the
same operation, not a second mail); a push may then show twice. The in-app inbox never repeats.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time

import psycopg2

from models.vocabularies import NotificationChannel, NotificationEvent
from shared.config import get_settings
from shared.db import Cursor
from shared.notifications import repository as repo
from shared.notifications.channels import Channel, Outgoing, PushTarget, Result, in_app
from shared.notifications.messages import Audience, render
from shared.notifications.schedule import quiet_until, retry_delay
from shared.observability import get_logger, redact_text
from shared.unit_of_work import UnitOfWork

log = get_logger("notifications.sender")

DEFAULT_QUIET_START = time(22, 0)
DEFAULT_QUIET_END = time(7, 0)
_QUIET_CHANNELS = {NotificationChannel.WEB_PUSH.value, NotificationChannel.EMAIL.value}


@dataclass
class SweepReport:
    """What one `deliver_due` did, by outcome."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    fenced: int = 0
    gone_subscriptions: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.sent + self.skipped + self.failed + self.retried + self.deferred

    def count(self, outcome: str, channel: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if outcome == "sent":
            self.by_channel[channel] = self.by_channel.get(channel, 0) + 1


ChannelFactory = Callable[[], Mapping[str, Channel]]


def default_channels() -> dict[str, Channel]:
    """The adapters configured by the settings (built per sweep: a rotated key is picked up)."""
    from shared.notifications.channels.email import EmailChannel
    from shared.notifications.channels.web_push import WebPushChannel

    return {
        NotificationChannel.WEB_PUSH.value: WebPushChannel.from_settings(),
        NotificationChannel.EMAIL.value: EmailChannel.from_settings(),
    }


def deliver_due(
    *,
    budget_seconds: float = 50.0,
    channels: ChannelFactory = default_channels,
    max_rounds: int | None = None,
) -> SweepReport:
    """Deliver due outbox rows until none is due or `budget_seconds` are spent."""
    settings = get_settings()
    report = SweepReport()
    adapters: Mapping[str, Channel] | None = None
    started = clock.monotonic()
    rounds = 0
    while clock.monotonic() - started < budget_seconds:
        rounds += 1
        leased = _claim(settings.notify_batch_size, report)
        if leased is None:  # nothing was due
            break
        if leased:
            if adapters is None:
                adapters = channels()
            for item, attempt in leased:
                adapter = adapters.get(item.channel.value)
                result = (
                    adapter.deliver(item)
                    if adapter is not None
                    else Result("skipped", f"no adapter for {item.channel.value}")
                )
                _settle(item, attempt, result, report)
        if max_rounds is not None and rounds >= max_rounds:
            break
    _report_overdue()
    if report.handled:
        log.info(
            "notifications_delivered",
            sent=report.sent,
            skipped=report.skipped,
            failed=report.failed,
            retried=report.retried,
            deferred=report.deferred,
            fenced=report.fenced,
            gone_subscriptions=report.gone_subscriptions,
            by_channel=report.by_channel,
            duration_ms=round((clock.monotonic() - started) * 1000, 1),
        )
    return report


def _report_overdue() -> None:
    """A warning when rows wait longer than they should (the sweep fell behind or stopped)."""
    with UnitOfWork.for_job() as uow:
        overdue = repo.overdue_count(uow.cursor)
    if overdue:
        log.warning("notifications_overdue", overdue=overdue, minutes=5)


def _claim(limit: int, report: SweepReport) -> list[tuple[Outgoing, int]] | None:
    """One claim transaction (module docstring, step 1); None when no row was due."""
    leased: list[tuple[Outgoing, int]] = []
    with UnitOfWork.for_job() as uow:
        cur = uow.cursor
        rows = repo.claim_due(cur, limit)
        if not rows:
            return None
        now = repo.db_now(cur)
        for row in rows:
            cur.execute("SAVEPOINT notification_row")
            try:
                _claim_row(cur, row, now, report, leased)
            except (
                psycopg2.DataError,
                psycopg2.IntegrityError,
                ValueError,
                KeyError,
                TypeError,
            ) as exc:
                # One row that cannot be written or rendered must not stop every other: it fails.
                cur.execute("ROLLBACK TO SAVEPOINT notification_row")
                error = redact_text(f"could not be prepared: {type(exc).__name__}: {exc}")[:500]
                repo.settle(cur, row["outbox_id"], row["attempts"], status="failed", error=error)
                report.count("failed", row["channel"])
                log.error("notification_unpreparable", outbox_id=row["outbox_id"], error=error)
            else:
                cur.execute("RELEASE SAVEPOINT notification_row")
    return leased


def _claim_row(
    cur: Cursor,
    row: repo.DueRow,
    now: datetime,
    report: SweepReport,
    leased: list[tuple[Outgoing, int]],
) -> None:
    """One due row in the claim transaction: in-app written, quiet hours deferred, spent rows
    failed, the rest leased into `leased`."""
    settings = get_settings()
    event = NotificationEvent(row["event_type"])
    channel = row["channel"]
    if channel == NotificationChannel.IN_APP.value:
        in_app.write(
            cur,
            outbox_id=row["outbox_id"],
            user_id=row["recipient_user_id"],
            event=event,
            patient_id=row["patient_id"],
            message=render(event, row["payload"], row["patient_name"], Audience.INBOX),
            data=row["payload"],
        )
        attempt = repo.lease(cur, row["outbox_id"], 0)
        repo.settle(cur, row["outbox_id"], attempt, status="sent")
        report.count("sent", channel)
        return
    if not row["urgent"] and channel in _QUIET_CHANNELS:
        until = quiet_until(
            now,
            row["quiet_start"] or DEFAULT_QUIET_START,
            row["quiet_end"] or DEFAULT_QUIET_END,
            row["time_zone"],
        )
        if until is not None:
            repo.defer(cur, row["outbox_id"], until)
            report.count("deferred", channel)
            return
    if row["attempts"] >= settings.notify_max_attempts:
        repo.settle(
            cur,
            row["outbox_id"],
            row["attempts"],
            status="failed",
            error="the last attempt's sender stopped before it finished",
        )
        report.count("failed", channel)
        return
    attempt = repo.lease(cur, row["outbox_id"], settings.notify_lease_seconds)
    leased.append((_outgoing(cur, row, event), attempt))


def _outgoing(cur: Cursor, row: repo.DueRow, event: NotificationEvent) -> Outgoing:
    channel = NotificationChannel(row["channel"])
    targets: tuple[PushTarget, ...] = ()
    if channel is NotificationChannel.WEB_PUSH:
        targets = tuple(PushTarget(**t) for t in repo.push_targets(cur, row["recipient_user_id"]))
    return Outgoing(
        outbox_id=row["outbox_id"],
        event=event,
        channel=channel,
        urgent=row["urgent"],
        message=render(event, row["payload"], row["patient_name"], Audience.OUTSIDE),
        patient_id=row["patient_id"],
        email=row["email"] if channel is NotificationChannel.EMAIL else None,
        subscriptions=targets,
        data=row["payload"],
    )


def _settle(item: Outgoing, attempt: int, result: Result, report: SweepReport) -> None:
    """One settle transaction (module docstring, step 3)."""
    settings = get_settings()
    channel = item.channel.value
    error = redact_text(result.detail)[:1000] if result.detail else None
    with UnitOfWork.for_job() as uow:
        cur = uow.cursor
        if result.gone:
            report.gone_subscriptions += repo.delete_subscriptions(cur, list(result.gone))
        if result.status == "retry":
            if attempt >= settings.notify_max_attempts:
                outcome, status, retry_in = "failed", "failed", None
            else:
                outcome, status = "retried", "pending"
                retry_in = retry_delay(
                    attempt, settings.notify_retry_base_seconds, settings.notify_retry_max_seconds
                )
        else:
            outcome = status = result.status
            retry_in = None
        if repo.settle(cur, item.outbox_id, attempt, status=status, error=error, retry_in=retry_in):
            report.count(outcome, channel)
        else:
            report.fenced += 1
            log.warning("notification_settle_fenced", outbox_id=item.outbox_id, attempt=attempt)
    if outcome in ("failed", "retried"):
        (log.error if outcome == "failed" else log.warning)(
            "notification_delivery_failed",
            outbox_id=item.outbox_id,
            channel=channel,
            event_type=item.event.value,
            attempt=attempt,
            final=outcome == "failed",
            error=error,
        )
