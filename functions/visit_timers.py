"""Visit timers: `visit_watch` every five minutes marks late and missed visits
(shared.visits.watch) and logs its counts on an operations logger (`timers`), whose INFO events
production keeps. Safe on many instances and overlapping runs (see the service)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import azure.functions as func

from shared.config import get_settings
from shared.observability import bind_context, clear_context, configure_logging, get_logger

# azure.functions.Blueprint() has no annotations.
bp = func.Blueprint()  # type: ignore[no-untyped-call]
log = get_logger("timers.visits")

VISIT_WATCH_SCHEDULE = "0 */5 * * * *"


@bp.function_name(name="visit_watch")
@bp.timer_trigger(arg_name="timer", schedule=VISIT_WATCH_SCHEDULE, run_on_startup=False)
def visit_watch(timer: func.TimerRequest) -> None:
    """Every 5 minutes: planned visits not checked into become late, then missed."""
    from shared.unit_of_work import UnitOfWork
    from shared.visits.watch import watch_visits

    settings = get_settings()
    configure_logging(settings)
    clear_context()
    bind_context(function="visit_watch", past_due=bool(timer.past_due))
    started = time.perf_counter()
    log.info("timer_started")
    try:
        with UnitOfWork.for_job() as uow:
            result = watch_visits(
                uow,
                now=datetime.now(UTC),
                late_after=timedelta(minutes=settings.visit_late_after_minutes),
            )
    except Exception:
        log.exception("visit_watch_failed")
        raise
    log.info(
        "visit_watch_completed",
        **result.as_log(),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
