"""Timer-triggered jobs. Schedules are NCRONTAB in UTC; `%NAME%` reads an app setting."""

from __future__ import annotations

import time

import azure.functions as func

from shared.config import get_settings
from shared.health import run_readiness
from shared.observability import bind_context, clear_context, configure_logging, get_logger

bp = func.Blueprint()
log = get_logger("timers")


def _start(name: str, timer: func.TimerRequest) -> float:
    configure_logging(get_settings())
    clear_context()
    bind_context(function=name, past_due=bool(timer.past_due))
    log.info("timer_started")
    return time.perf_counter()


@bp.function_name(name="health_check")
@bp.timer_trigger(arg_name="timer", schedule="0 */5 * * * *", run_on_startup=False)
def health_check(timer: func.TimerRequest) -> None:
    """Every 5 minutes: run the readiness checks and log an ERROR event when any fails."""
    started = _start("health_check", timer)
    report = run_readiness()
    failing = {name: c.model_dump() for name, c in report.checks.items() if c.status == "down"}
    event = log.error if report.status == "unhealthy" or failing else log.info
    event(
        "health_check_completed",
        status=report.status,
        failing=failing,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
