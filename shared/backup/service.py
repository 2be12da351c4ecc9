"""What the backup timers, the admin API and the command line call: one function per job.

Each job finds the database URL (the `DatabaseURL` secret) and the backup container
(`BACKUP_CONTAINER`) the way the rest of the app does, calls the module that does the work, and
returns plain data (dicts, dataclasses) for the caller to log or render. The jobs stream in
their own connections (a REPEATABLE READ snapshot, autocommit run records; shared.backup.
sessions), not through a unit of work: a backup outlives any one transaction of the app's pool.
The health-check timer and database maintenance are shared.operations.

For the admin API (reads in the request's unit of work):

- `list_backups(uow, limit=50, offset=0) -> (items, total)` for `GET /api/admin/backups`;
- `backup_overview(uow) -> dict` (backup ages, problems, latest drill and health snapshot);
- `submit_full_backup(uow, requested_by=..., actor=...) -> run` for `POST /api/admin/backups`:
  records a full backup job (`queued`) and enqueues its id (shared.jobs); ConflictError (409)
  when a full backup is already queued or running under a live lease, JobNotQueued when the
  queue refused the message (the job is then recorded failed).

For the queue-triggered functions (functions/queues.py), idempotent by job id:

- `run_backup_job(job_id) -> outcome`: claims the job and runs it; a settled job is left alone,
  a job whose worker died is started over, a job that finds another backup running is looked at
  again after BACKUP_JOB_RETRY_SECONDS (a new delayed message);
- `fail_poisoned_job(job_id, dequeue_count)`: the job's message went to the poison queue; an
  unfinished job is failed with the reason.

Every job here is audited (shared.backup.export_audit): `actor` says who runs it, the request's
admin, a `SystemActor.operator()` from the command line, or by default the timer of that name.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from shared.audit import AuditActor, SystemActor
from shared.backup import layout, locks, ops_records, status
from shared.backup.sessions import database_url
from shared.backup.writer import BackupResult, Progress, run_backup
from shared.config import get_settings
from shared.errors import ConflictError
from shared.jobs import actors, queue
from shared.observability import get_logger, redact_text
from shared.unit_of_work import UnitOfWork

log = get_logger("backup.service")


class JobNotQueued(RuntimeError):
    """The queue refused a job's message; the job is recorded failed. `cause` is for the log."""

    def __init__(self, backup_id: str, cause: str) -> None:
        super().__init__(f"backup job {backup_id} could not be queued")
        self.backup_id = backup_id
        self.cause = cause


def backup_container(create: bool = True) -> Any:
    """The Blob container for backups (created on first use)."""
    from azure.core.exceptions import ResourceExistsError

    from shared.storage import get_blob_service

    container = get_blob_service().get_container_client(get_settings().backup_container)
    if create:
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
    return container


# -- backup jobs (timers and commands) --------------------------------------------------------


def nightly_backup(
    *,
    requested_by: str = "timer",
    progress: Progress | None = None,
    actor: AuditActor | None = None,
    job_id: str | None = None,
) -> BackupResult:
    """A full backup, then pruning past BACKUP_RETENTION_DAYS (with `job_id`: that queued job)."""
    settings = get_settings()
    return run_backup(
        database_url(),
        backup_container(),
        kind="full",
        requested_by=requested_by,
        progress=progress,
        retention_days=settings.backup_retention_days,
        actor=actor or SystemActor.timer("nightly_backup"),
        job_id=job_id,
        lease_seconds=settings.backup_job_lease_seconds,
    )


def incremental_backup(
    *,
    requested_by: str = "timer",
    progress: Progress | None = None,
    actor: AuditActor | None = None,
) -> BackupResult:
    """The rows changed since the previous backup (a full backup if there is none)."""
    return run_backup(
        database_url(),
        backup_container(),
        kind="incremental",
        requested_by=requested_by,
        progress=progress,
        actor=actor or SystemActor.timer("incremental_backup"),
        lease_seconds=get_settings().backup_job_lease_seconds,
    )


def restore_drill(
    *, progress: Progress | None = None, actor: AuditActor | None = None
) -> ops_records.DrillRow | dict[str, Any]:
    from shared.backup.drill import run_restore_drill

    return run_restore_drill(
        database_url(),
        backup_container(),
        progress=progress,
        actor=actor or SystemActor.timer("restore_drill"),
    )


# -- admin API --------------------------------------------------------------------------------


def list_backups(
    uow: UnitOfWork, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Backup runs, newest first, each with its restore drills: (items, total)."""
    rows, total = ops_records.list_runs(uow.cursor, limit=limit, offset=offset)
    drills = ops_records.drills_for(uow.cursor, [row["backup_id"] for row in rows])
    items = []
    for row in rows:
        backup_drills = [_drill(d) for d in drills.get(row["backup_id"], [])]
        items.append(
            {
                "backup_id": row["backup_id"],
                "kind": row["kind"],
                # A run whose worker stopped renewing its lease is not in progress any more.
                "status": "abandoned" if row["lease_expired"] else row["status"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "duration_s": _round(row["duration_s"]),
                "bytes": row["bytes"],
                "rows": row["rows"],
                "tables": row["tables"],
                "error": row["error"],
                "snapshot_at": row["snapshot_at"],
                "base_backup_id": row["base_backup_id"],
                "requested_by": row["requested_by"],
                "pruned": row["pruned_at"] is not None,
                "queued_at": row["queued_at"],
                "attempts": row["attempts"],
                "worker": row["worker"],
                "lease_expires_at": row["lease_expires_at"],
                "latest_drill": backup_drills[0] if backup_drills else None,
                "drills": backup_drills,
            }
        )
    return items, total


def backup_overview(uow: UnitOfWork) -> dict[str, Any]:
    """Ages of the newest backups, what is wrong, the latest drill and health snapshot."""
    ages = status.backup_ages(uow.cursor)
    snapshot = ops_records.latest_health_snapshot(uow.cursor)
    latest_drill = ages.pop("latest_drill")
    return {
        **ages,
        "latest_drill": _drill(latest_drill) if latest_drill else None,
        "health": snapshot,
    }


def submit_full_backup(
    uow: UnitOfWork, *, requested_by: str, actor: AuditActor
) -> ops_records.BackupRunRow:
    """Record a full backup job and enqueue its id; the queue's worker runs it.

    The row is committed before the message is sent, so a worker never reads a message whose job
    it cannot find. ConflictError while a full backup is queued or running under a live lease
    (two requests at once are serialised by a transaction lock); JobNotQueued when the message
    could not be sent (the job is then failed, so it blocks nothing).
    """
    cur = uow.cursor
    locks.transaction_lock(cur, locks.BACKUP_SUBMIT_LOCK)
    active = ops_records.active_jobs(cur, "full")
    if active:
        raise ConflictError(
            f"A full backup is already {active[0]['status']} ({active[0]['backup_id']}); "
            "try again when it has finished."
        )
    backup_id = layout.new_backup_id("full", datetime.now(UTC))
    run = ops_records.insert_queued_run(
        cur,
        backup_id=backup_id,
        kind="full",
        blob_prefix=layout.data_prefix(backup_id),
        requested_by=requested_by,
        requested_actor=actors.to_json(actor),
    )
    uow.commit()
    try:
        queue.enqueue(get_settings().backup_queue, backup_id)
    except Exception as exc:
        cause = redact_text(f"{type(exc).__name__}: {exc}")[:2000]
        ops_records.fail_job(uow.cursor, backup_id, error="not queued: the queue refused the job")
        uow.commit()
        raise JobNotQueued(backup_id, cause) from exc
    log.info("backup_job_queued", backup_id=backup_id, requested_by=requested_by)
    return run


def run_backup_job(job_id: str) -> str:
    """Do the backup job `job_id` for its queue message; what happened, for the log.

    `unknown` (no such job: the message is dropped), `settled` (it had finished already),
    `deferred` (another backup holds the lock: a new message looks again later), or the run's
    outcome, `succeeded` or `failed`. Raises only when the database or queue cannot be reached,
    so the message is delivered again.
    """
    with UnitOfWork.for_job(readonly=True) as uow:
        run = ops_records.get_run(uow.cursor, job_id)
    if run is None:
        log.warning("backup_job_unknown", job_id=job_id)
        return "unknown"
    if run["status"] in ops_records.SETTLED_STATUSES:
        log.info("backup_job_already_settled", job_id=job_id, status=run["status"])
        return "settled"
    actor = actors.from_json(run["requested_actor"]) or SystemActor.timer("nightly_backup")
    result = nightly_backup(requested_by=run["requested_by"], actor=actor, job_id=job_id)
    if result.status == "skipped":
        delay = get_settings().backup_job_retry_seconds
        queue.enqueue(get_settings().backup_queue, job_id, delay_seconds=delay)
        log.info("backup_job_deferred", job_id=job_id, reason="another backup is running")
        return "deferred"
    return result.status


def fail_poisoned_job(job_id: str, dequeue_count: int) -> ops_records.BackupRunRow | None:
    """The job's message reached the poison queue: fail the job if it has not finished."""
    poison = queue.poison_queue_name(get_settings().backup_queue)
    error = (
        "failed: no worker finished the job; the Functions host moved its message to "
        f"{poison} after maxDequeueCount deliveries"
    )
    with UnitOfWork.for_job() as uow:
        run = ops_records.fail_job(uow.cursor, job_id, error=error)
    if run is None:
        log.info("backup_job_poison_ignored", job_id=job_id, reason="already settled or unknown")
    else:
        log.error(
            "backup_job_poisoned",
            job_id=job_id,
            dequeue_count=dequeue_count,
            attempts=run["attempts"],
        )
    return run


def _drill(row: ops_records.DrillRow) -> dict[str, Any]:
    return {
        "drill_id": row["drill_id"],
        "status": row["status"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "rto_seconds": row["rto_seconds"],
        "tables": row["tables"],
        "rows": row["rows"],
        "mismatches": row["mismatches"],
        "error": row["error"],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
