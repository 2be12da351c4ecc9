"""Audit events for backups, restores and restore drills (they copy every patient's data).

One `audit_events` row per job, patient_id NULL (it covers every patient):

- a backup (full or incremental, succeeded or failed): action `export`, resource_type `backup`,
  resource_id the backup id, written into the database that was backed up, in its own short
  transaction after the run is settled. It lands after the backup's snapshot, so the next
  incremental carries it.
- a restore: action `update`, resource_type `database_restore` (the target's every table is
  replaced), resource_id the newest backup restored, written into the target after the load
  committed, so the target's own trail (which the load replaced with the backup's) says it was
  restored, from what and by whom. A refused or failed restore commits nothing and writes no
  event (it is logged).
- a restore drill: action `export`, resource_type `restore_drill`, resource_id the backup id,
  written into the live database (the scratch database it restored into is dropped).

Detail names the kind, the tables with their row counts, the database (its name only, never a
URL or credentials) and the outcome; `SystemActor` adds the timer or the operating-system user.
Writing the event never changes the job's result: a failure to write it is logged as an error.
"""

from __future__ import annotations

from typing import Any

from shared import audit
from shared.audit import AuditAction, AuditActor
from shared.backup.manifest import Manifest
from shared.backup.sessions import connect, dict_cursor
from shared.db import Cursor
from shared.observability import get_logger

log = get_logger("backup.audit")

BACKUP_RESOURCE = "backup"
RESTORE_RESOURCE = "database_restore"
DRILL_RESOURCE = "restore_drill"


def current_database(cur: Any) -> str:
    cur.execute("SELECT current_database() AS name")
    row = cur.fetchone()
    assert row is not None
    return str(row["name"] if isinstance(row, dict) else row[0])


def backup_detail(
    *,
    kind: str,
    outcome: str,
    requested_by: str,
    manifest: Manifest | None,
) -> dict[str, Any]:
    detail: dict[str, Any] = {"kind": kind, "outcome": outcome, "requested_by": requested_by}
    if manifest is not None:
        detail.update(
            tables={t.name: t.rows for t in manifest.tables if t.mode != "unchanged"},
            rows=manifest.rows,
            bytes=manifest.bytes,
            snapshot_at=manifest.snapshot_at.isoformat(),
            base_backup_id=manifest.base_backup_id,
            previous_backup_id=manifest.previous_backup_id,
        )
    return detail


def record_backup(
    control: Cursor,
    actor: AuditActor,
    *,
    backup_id: str,
    kind: str,
    outcome: str,
    requested_by: str,
    manifest: Manifest | None,
) -> bool:
    """One `export` event for a settled backup run, on the autocommit `control` connection."""
    try:
        detail = backup_detail(
            kind=kind, outcome=outcome, requested_by=requested_by, manifest=manifest
        )
        detail["database"] = current_database(control)
        audit.record(
            control,
            actor,
            AuditAction.EXPORT,
            patient_id=None,
            resource_type=BACKUP_RESOURCE,
            resource_id=backup_id,
            detail=detail,
        )
    except Exception as exc:  # the backup's outcome stands; the missing event must be seen
        log.error("backup_audit_failed", backup_id=backup_id, error=type(exc).__name__)
        return False
    return True


def record_restore(
    target_url: str,
    actor: AuditActor,
    *,
    chain: list[str],
    tables: dict[str, int],
    revision: str | None,
    snapshot_at: Any,
    replaced: bool,
) -> str | None:
    """One `update` event in the restored database; returns its name (None if not written)."""
    conn = None
    try:
        conn = connect(target_url, autocommit=True, application_name="neulbomcare-restore")
        with dict_cursor(conn) as cur:
            database = current_database(cur)
            audit.record(
                cur,
                actor,
                AuditAction.UPDATE,
                patient_id=None,
                resource_type=RESTORE_RESOURCE,
                resource_id=chain[-1],
                detail={
                    "kind": "restore",
                    "outcome": "succeeded",
                    "chain": chain,
                    "revision": revision,
                    "snapshot_at": snapshot_at.isoformat() if snapshot_at else None,
                    "target_database": database,
                    "replaced": replaced,
                    "tables": tables,
                    "rows": sum(tables.values()),
                },
            )
    except Exception as exc:
        log.error("restore_audit_failed", backup_id=chain[-1], error=type(exc).__name__)
        return None
    finally:
        if conn is not None:
            conn.close()
    log.info("restore_audited", backup_id=chain[-1], target_database=database, role=actor.role)
    return database


def record_drill(
    control: Cursor,
    actor: AuditActor,
    *,
    drill_id: int,
    backup_id: str | None,
    outcome: str,
    scratch_database: str,
    scratch_dropped: bool,
    tables: dict[str, int],
) -> bool:
    """One `export` event in the live database for a drill that ran (not skipped)."""
    try:
        audit.record(
            control,
            actor,
            AuditAction.EXPORT,
            patient_id=None,
            resource_type=DRILL_RESOURCE,
            resource_id=backup_id,
            detail={
                "kind": "restore_drill",
                "outcome": outcome,
                "drill_id": drill_id,
                "database": current_database(control),
                "target_database": scratch_database,
                "target_dropped": scratch_dropped,
                "tables": tables,
                "rows": sum(tables.values()),
            },
        )
    except Exception as exc:
        log.error("restore_drill_audit_failed", drill_id=drill_id, error=type(exc).__name__)
        return False
    return True
