"""Timer-triggered jobs. Schedules are NCRONTAB in UTC; `%NAME%` reads an app setting.

Each trigger calls one job (shared.backup.service for backups and drills, shared.operations for
the health check and maintenance, shared.matching for the model) and logs its outcome on an
operations logger, whose INFO events production keeps (shared.observability); the health check
and the drill also emit the figures alerts read as metrics. Every job is safe to run twice or
late (`past_due`): an advisory lock makes an overlapping run skip, and a run that dies leaves
nothing that looks complete.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from shared.config import get_settings
from shared.observability import (
    bind_context,
    clear_context,
    configure_logging,
    emit_metric,
    get_logger,
)

# azure.functions.Blueprint() has no annotations.
bp = func.Blueprint()  # type: ignore[no-untyped-call]
log = get_logger("timers")

INCREMENTAL_SCHEDULE = "0 */15 * * * *"
HEALTH_CHECK_SCHEDULE = "0 */5 * * * *"
# Sunday 20:30 and 21:00 UTC (Monday 05:30 and 06:00 KST): early Monday morning in Korea,
# after the nightly backup (18:00 UTC) and after PostgreSQL's own maintenance window (Sunday
# 19:00 UTC, one hour: infra/core/database/postgresql-flexible-server.bicep), with half an hour
# to spare, so a server restart there never fails the drill or the VACUUM.
RESTORE_DRILL_SCHEDULE = "0 30 20 * * 0"
MAINTENANCE_SCHEDULE = "0 0 21 * * 0"
MODEL_REFRESH_SCHEDULE = "0 */10 * * * *"


def _start(name: str, timer: func.TimerRequest) -> float:
    configure_logging(get_settings())
    clear_context()
    bind_context(function=name, past_due=bool(timer.past_due))
    log.info("timer_started")
    return time.perf_counter()


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _log_backup(event: str, result: Any, started: float) -> None:
    level = log.error if result.status == "failed" else log.info
    level(
        event,
        status=result.status,
        kind=result.kind,
        backup_id=result.backup_id,
        error=result.error,
        duration_ms=_elapsed_ms(started),
    )


@bp.function_name(name="health_check")
@bp.timer_trigger(arg_name="timer", schedule=HEALTH_CHECK_SCHEDULE, run_on_startup=False)
def health_check(timer: func.TimerRequest) -> None:
    """Every 5 minutes: readiness checks and backup ages; an ERROR event when anything fails."""
    from shared.operations.health_check import health_check as run_health_check

    started = _start("health_check", timer)
    report = run_health_check()
    failing = {name: c for name, c in report["checks"].items() if c["status"] == "down"}
    event = log.error if report["status"] == "unhealthy" or report["problems"] else log.info
    backups = report["backups"] or {}
    event(
        "health_check_completed",
        status=report["status"],
        failing=failing,
        problems=report["problems"],
        latest_full_age_s=backups.get("latest_full_age_s"),
        latest_backup_age_s=backups.get("latest_backup_age_s"),
        latest_incremental_age_s=backups.get("latest_incremental_age_s"),
        duration_ms=_elapsed_ms(started),
    )
    _emit_backup_metrics(backups)


def _emit_backup_metrics(backups: dict[str, Any]) -> None:
    """The figures the alerts read (shared.observability.OPS_METRICS); a figure nobody has yet
    (no full backup, no drill) is left out rather than invented."""
    for metric, key in (
        ("backup_full_age_seconds", "latest_full_age_s"),
        ("backup_incremental_age_seconds", "latest_incremental_age_s"),
    ):
        if backups.get(key) is not None:
            emit_metric(metric, float(backups[key]))
    drill = backups.get("latest_drill")
    if drill and drill["status"] != "running":
        _emit_drill_metrics(drill)


def _emit_drill_metrics(drill: Any) -> None:
    emit_metric("restore_drill_ok", 1.0 if drill["status"] == "succeeded" else 0.0)
    if drill.get("rto_seconds") is not None:
        emit_metric("restore_drill_rto_seconds", float(drill["rto_seconds"]))
    if drill.get("started_at") is not None:
        age = datetime.now(UTC) - drill["started_at"]
        emit_metric("restore_drill_age_seconds", round(age.total_seconds(), 1))


@bp.function_name(name="nightly_backup")
@bp.timer_trigger(arg_name="timer", schedule="%BACKUP_SCHEDULE%", run_on_startup=False)
def nightly_backup(timer: func.TimerRequest) -> None:
    """Nightly: a full backup to Blob, then pruning past BACKUP_RETENTION_DAYS."""
    from shared.audit import SystemActor
    from shared.backup.service import nightly_backup as run_nightly_backup

    started = _start("nightly_backup", timer)
    result = run_nightly_backup(actor=SystemActor.timer("nightly_backup"))
    _log_backup("nightly_backup_completed", result, started)


@bp.function_name(name="incremental_backup")
@bp.timer_trigger(arg_name="timer", schedule=INCREMENTAL_SCHEDULE, run_on_startup=False)
def incremental_backup(timer: func.TimerRequest) -> None:
    """Every 15 minutes: the rows changed since the previous backup (the 15-minute RPO)."""
    from shared.audit import SystemActor
    from shared.backup.service import incremental_backup as run_incremental_backup

    started = _start("incremental_backup", timer)
    result = run_incremental_backup(actor=SystemActor.timer("incremental_backup"))
    _log_backup("incremental_backup_completed", result, started)


@bp.function_name(name="restore_drill")
@bp.timer_trigger(arg_name="timer", schedule=RESTORE_DRILL_SCHEDULE, run_on_startup=False)
def restore_drill(timer: func.TimerRequest) -> None:
    """Weekly: restore the newest backup into a scratch database, verify it, measure the RTO."""
    from shared.audit import SystemActor
    from shared.backup.service import restore_drill as run_restore_drill

    started = _start("restore_drill", timer)
    record = run_restore_drill(actor=SystemActor.timer("restore_drill"))
    level = log.error if record["status"] == "failed" else log.info
    level(
        "restore_drill_finished",
        status=record["status"],
        backup_id=record.get("backup_id"),
        rto_seconds=record.get("rto_seconds"),
        error=record.get("error"),
        duration_ms=_elapsed_ms(started),
    )
    if record["status"] != "skipped":
        _emit_drill_metrics(record)


@bp.function_name(name="db_maintenance")
@bp.timer_trigger(arg_name="timer", schedule=MAINTENANCE_SCHEDULE, run_on_startup=False)
def db_maintenance(timer: func.TimerRequest) -> None:
    """Weekly: prune expired login attempts and old audit events, VACUUM (ANALYZE) busy tables."""
    from shared.operations.maintenance import db_maintenance as run_db_maintenance

    started = _start("db_maintenance", timer)
    report = run_db_maintenance()
    log.info("db_maintenance_finished", **report, duration_ms=_elapsed_ms(started))


@bp.function_name(name="model_refresh")
@bp.timer_trigger(arg_name="timer", schedule=MODEL_REFRESH_SCHEDULE, run_on_startup=False)
def model_refresh(timer: func.TimerRequest) -> None:
    """Every 10 minutes: pick up a newly published matching model (the previous one keeps
    serving on any failure)."""
    from shared.matching.model_registry import refresh_model

    started = _start("model_refresh", timer)
    log.info("model_refresh_completed", **refresh_model(), duration_ms=_elapsed_ms(started))
