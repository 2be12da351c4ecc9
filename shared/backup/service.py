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
- `start_full_backup(requested_by="api", wait=False, actor=...) -> dict` for
  `POST /api/admin/backups`: returns the new run's record (status "running"), or
  `{"status": "skipped", ...}` when a backup is already running (answer 409).

Every job here is audited (shared.backup.export_audit): `actor` says who runs it, the request's
admin, a `SystemActor.operator()` from the command line, or by default the timer of that name.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from shared.audit import AuditActor, SystemActor
from shared.backup import ops_records, status
from shared.backup.sessions import database_url
from shared.backup.writer import BackupResult, Progress, run_backup
from shared.config import get_settings
from shared.observability import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger("backup.service")

START_WAIT_SECONDS = 15.0


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
) -> BackupResult:
    """A full backup, then pruning past BACKUP_RETENTION_DAYS."""
    return run_backup(
        database_url(),
        backup_container(),
        kind="full",
        requested_by=requested_by,
        progress=progress,
        retention_days=get_settings().backup_retention_days,
        actor=actor or SystemActor.timer("nightly_backup"),
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
                "status": row["status"],
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


def start_full_backup(
    *, requested_by: str = "api", wait: bool = False, actor: AuditActor | None = None
) -> dict[str, Any]:
    """Start a full backup now (on a background thread unless `wait`), audited as `actor`
    (the admin who asked; without one, as the nightly_backup timer).

    Returns the run record as soon as the run is registered (status "running"), or the finished
    record with `wait=True`. When another backup holds the lock: {"status": "skipped", ...}.
    """
    if wait:
        return _result_record(nightly_backup(requested_by=requested_by, actor=actor))
    started = threading.Event()
    outcome: dict[str, Any] = {}

    def progress(event: str, **fields: Any) -> None:
        if event == "backup_started":
            outcome["backup_id"] = fields["backup_id"]
            started.set()

    def work() -> None:
        try:
            result = nightly_backup(requested_by=requested_by, progress=progress, actor=actor)
            outcome["result"] = result
        except Exception as exc:
            outcome["error"] = f"{type(exc).__name__}: {exc}"
            log.exception("backup_on_demand_crashed")
        finally:
            started.set()

    threading.Thread(target=work, name="backup-on-demand", daemon=True).start()
    started.wait(START_WAIT_SECONDS)
    if "backup_id" in outcome:
        with UnitOfWork.for_job(readonly=True) as uow:
            run = ops_records.get_run(uow.cursor, outcome["backup_id"])
        return dict(run) if run else {"backup_id": outcome["backup_id"], "status": "running"}
    if "result" in outcome:
        return _result_record(outcome["result"])
    return {"status": "failed", "error": outcome.get("error", "the backup did not start")}


def _result_record(result: BackupResult) -> dict[str, Any]:
    if result.run is not None:
        return dict(result.run)
    return {"status": result.status, "kind": result.kind, "error": result.error}


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
