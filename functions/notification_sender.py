"""The notification sender's triggers (shared.notifications.sender).

- `notification_send`: a message on `%NOTIFICATION_QUEUE%` (a nudge: `{"job_id": "sweep"}`, what
  `shared.notifications.nudge` puts there) delivers the due outbox rows at once;
- `notification_sweep`: every minute, the same, so a row never waits for a nudge that was never
  sent (the sweep is the guarantee, the queue only makes it sooner).

Both are safe to run at once and twice: rows are claimed with SKIP LOCKED and leased. A nudge
that fails (the database unreachable) is logged and dropped rather than retried into the poison
queue: the next sweep does the same work.
"""

from __future__ import annotations

import azure.functions as func

from shared.config import get_settings
from shared.observability import (
    bind_context,
    clear_context,
    configure_logging,
    get_logger,
    redact_text,
)

# azure.functions.Blueprint() has no annotations.
bp = func.Blueprint()  # type: ignore[no-untyped-call]
log = get_logger("queues.notifications")

SWEEP_SCHEDULE = "0 */1 * * * *"
#: The Functions host's storage connection (identity-based in Azure: AzureWebJobsStorage__*).
CONNECTION = "AzureWebJobsStorage"


@bp.function_name(name="notification_send")
@bp.queue_trigger(arg_name="message", queue_name="%NOTIFICATION_QUEUE%", connection=CONNECTION)
def notification_send(message: func.QueueMessage) -> None:
    """A nudge: deliver what is due now (what the message says does not matter)."""
    from shared.notifications.sender import deliver_due

    configure_logging(get_settings())
    clear_context()
    bind_context(function="notification_send", message_id=message.id)
    try:
        deliver_due(budget_seconds=25.0)
    except Exception as exc:  # a nudge is best effort: the minute sweep retries, no poison queue
        log.error("notification_send_failed", error=redact_text(f"{type(exc).__name__}: {exc}"))


@bp.function_name(name="notification_sweep")
@bp.timer_trigger(arg_name="timer", schedule=SWEEP_SCHEDULE, run_on_startup=False)
def notification_sweep(timer: func.TimerRequest) -> None:
    """Every minute: deliver every due outbox row (retries, deferred quiet-hour rows, lost
    nudges)."""
    from shared.notifications.sender import deliver_due

    configure_logging(get_settings())
    clear_context()
    bind_context(function="notification_sweep", past_due=bool(timer.past_due))
    deliver_due(budget_seconds=50.0)
