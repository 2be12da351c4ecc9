"""The records of this server's operations: backup runs (`ops_backup_runs`), restore drills
(`ops_restore_drills`) and health snapshots (`ops_health_snapshots`), plus pruning the change
log (`ops_row_changes`) once a backup covers it.

The change log is written by triggers and read by the backup writer's own COPY statements
(shared.backup.writer), which belong with the rest of a backup's SQL. Functions here take a
dict-rows cursor (a unit of work's, or `sessions.dict_cursor`) and never commit: the caller's
transaction or autocommit connection decides.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg2 import sql
from psycopg2.extras import Json

from shared.db import Cursor

RUN_COLUMNS = """
    backup_id, kind, status, started_at, finished_at, base_backup_id, previous_backup_id,
    snapshot::text AS snapshot, snapshot_at, alembic_revision, blob_prefix, tables, rows, bytes,
    requested_by, error, pruned_at,
    extract(epoch FROM finished_at - started_at)::float8 AS duration_s,
    queued_at, attempts, worker, heartbeat_at, lease_expires_at, requested_actor,
    (status = 'running' AND coalesce(lease_expires_at < now(), true)) AS lease_expired
"""
_RUN = sql.SQL(RUN_COLUMNS)


class BackupRunRow(TypedDict):
    """One `ops_backup_runs` record (RUN_COLUMNS)."""

    backup_id: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    base_backup_id: str | None
    previous_backup_id: str | None
    snapshot: str | None
    snapshot_at: datetime | None
    alembic_revision: str | None
    blob_prefix: str
    tables: int | None
    rows: int | None
    bytes: int | None
    requested_by: str
    error: str | None
    pruned_at: datetime | None
    duration_s: float | None
    queued_at: datetime | None
    attempts: int
    worker: str | None
    heartbeat_at: datetime | None
    lease_expires_at: datetime | None
    requested_actor: dict[str, Any] | None
    lease_expired: bool


#: A run in one of these is finished: its job has nothing left to do.
SETTLED_STATUSES = frozenset({"succeeded", "failed"})


class DrillRow(TypedDict):
    """One `ops_restore_drills` record (DRILL_COLUMNS)."""

    drill_id: int
    backup_id: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    rto_seconds: float | None
    tables: int | None
    rows: int | None
    mismatches: list[dict[str, Any]]
    error: str | None


class HealthSnapshotRow(TypedDict):
    """One `ops_health_snapshots` record."""

    snapshot_id: int
    checked_at: datetime
    status: str
    checks: dict[str, Any]
    problems: list[str]


# -- backup runs ------------------------------------------------------------------------------


def insert_run(
    cur: Cursor,
    *,
    backup_id: str,
    kind: str,
    blob_prefix: str,
    started_at: datetime,
    requested_by: str,
    base_backup_id: str | None = None,
    previous_backup_id: str | None = None,
    worker: str | None = None,
    lease_seconds: float = 120.0,
) -> BackupRunRow:
    """A run started now by `worker` (a timer or a command), its lease running."""
    cur.execute(
        sql.SQL("""
        INSERT INTO ops_backup_runs (backup_id, kind, blob_prefix, started_at, requested_by,
                                     base_backup_id, previous_backup_id, attempts, worker,
                                     heartbeat_at, lease_expires_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s, clock_timestamp(),
                clock_timestamp() + make_interval(secs => %s))
        RETURNING {cols}
        """).format(cols=_RUN),
        (
            backup_id,
            kind,
            blob_prefix,
            started_at,
            requested_by,
            base_backup_id,
            previous_backup_id,
            worker,
            lease_seconds,
        ),
    )
    return cast(BackupRunRow, cur.fetchone())


# -- backup runs as queue jobs (shared.jobs) ---------------------------------------------------


def insert_queued_run(
    cur: Cursor,
    *,
    backup_id: str,
    kind: str,
    blob_prefix: str,
    requested_by: str,
    requested_actor: dict[str, Any] | None,
) -> BackupRunRow:
    """A job accepted now: `queued` until a worker claims it."""
    cur.execute(
        sql.SQL("""
        INSERT INTO ops_backup_runs (backup_id, kind, status, blob_prefix, started_at, queued_at,
                                     requested_by, requested_actor)
        VALUES (%s, %s, 'queued', %s, now(), now(), %s, %s)
        RETURNING {cols}
        """).format(cols=_RUN),
        (backup_id, kind, blob_prefix, requested_by, Json(requested_actor)),
    )
    return cast(BackupRunRow, cur.fetchone())


#: A job still `queued` after this long has probably lost its message (a deleted queue): it no
#: longer counts as a backup on its way, though it still runs if its message does arrive.
QUEUED_JOB_PENDING_SECONDS = 3600


def active_jobs(cur: Cursor, kind: str) -> list[BackupRunRow]:
    """Jobs of `kind` queued (within QUEUED_JOB_PENDING_SECONDS), or running under a live
    lease: a backup already on its way."""
    cur.execute(
        sql.SQL("""
        SELECT {cols} FROM ops_backup_runs
        WHERE kind = %s AND queued_at IS NOT NULL
          AND ((status = 'queued' AND queued_at >= now() - make_interval(secs => %s))
               OR (status = 'running' AND lease_expires_at >= now()))
        ORDER BY queued_at
        """).format(cols=_RUN),
        (kind, QUEUED_JOB_PENDING_SECONDS),
    )
    return cast(list[BackupRunRow], cur.fetchall())


def claim_job(
    cur: Cursor, backup_id: str, *, worker: str, lease_seconds: float, started_at: datetime
) -> BackupRunRow | None:
    """Start (or start over) the job `backup_id` as `worker`; None when it is already settled.

    Call only while holding the backup lock: a `running` job then has no live worker, and its
    previous attempt's snapshot is forgotten (the new attempt takes its own).
    """
    cur.execute(
        sql.SQL("""
        UPDATE ops_backup_runs
        SET status = 'running', attempts = attempts + 1, worker = %(worker)s,
            started_at = %(started_at)s, heartbeat_at = clock_timestamp(),
            lease_expires_at = clock_timestamp() + make_interval(secs => %(lease)s),
            snapshot = NULL, snapshot_at = NULL, alembic_revision = NULL
        WHERE backup_id = %(id)s AND status IN ('queued', 'running')
        RETURNING {cols}
        """).format(cols=_RUN),
        {"id": backup_id, "worker": worker, "lease": lease_seconds, "started_at": started_at},
    )
    return cast(BackupRunRow | None, cur.fetchone())


def renew_lease(cur: Cursor, backup_id: str, *, worker: str | None, lease_seconds: float) -> bool:
    """Extend the lease of a run `worker` is running; False when it is no longer its run."""
    cur.execute(
        """
        UPDATE ops_backup_runs
        SET heartbeat_at = clock_timestamp(),
            lease_expires_at = clock_timestamp() + make_interval(secs => %s)
        WHERE backup_id = %s AND status = 'running' AND worker IS NOT DISTINCT FROM %s
        """,
        (lease_seconds, backup_id, worker),
    )
    return cur.rowcount == 1


def requeue_run(cur: Cursor, backup_id: str, *, note: str) -> None:
    """Put a job whose worker died back to `queued`: its redelivered message starts it over."""
    cur.execute(
        """
        UPDATE ops_backup_runs
        SET status = 'queued', lease_expires_at = NULL, error = %s
        WHERE backup_id = %s AND status = 'running'
        """,
        (note, backup_id),
    )


def fail_job(cur: Cursor, backup_id: str, *, error: str) -> BackupRunRow | None:
    """Settle an unfinished job as failed; None when it had already settled (or is unknown)."""
    cur.execute(
        sql.SQL("""
        UPDATE ops_backup_runs
        SET status = 'failed', finished_at = clock_timestamp(), lease_expires_at = NULL,
            error = %s
        WHERE backup_id = %s AND status IN ('queued', 'running')
        RETURNING {cols}
        """).format(cols=_RUN),
        (error, backup_id),
    )
    return cast(BackupRunRow | None, cur.fetchone())


def record_snapshot(
    cur: Cursor,
    backup_id: str,
    *,
    snapshot: str,
    snapshot_at: datetime,
    alembic_revision: str | None,
) -> None:
    cur.execute(
        """
        UPDATE ops_backup_runs
        SET snapshot = %s::txid_snapshot, snapshot_at = %s, alembic_revision = %s
        WHERE backup_id = %s
        """,
        (snapshot, snapshot_at, alembic_revision, backup_id),
    )


def finish_run(
    cur: Cursor,
    backup_id: str,
    *,
    status: str,
    tables: int | None = None,
    rows: int | None = None,
    size: int | None = None,
    error: str | None = None,
) -> BackupRunRow:
    cur.execute(
        sql.SQL("""
        UPDATE ops_backup_runs
        SET status = %s, finished_at = clock_timestamp(), tables = %s, rows = %s, bytes = %s,
            error = %s, lease_expires_at = NULL
        WHERE backup_id = %s
        RETURNING {cols}
        """).format(cols=_RUN),
        (status, tables, rows, size, error, backup_id),
    )
    return cast(BackupRunRow, cur.fetchone())


def running_runs(cur: Cursor, *, exclude: str | None = None) -> list[BackupRunRow]:
    """Runs still marked running but `exclude` (the caller's own). Call only while holding the
    backup lock: they are dead."""
    cur.execute(
        sql.SQL(
            "SELECT {cols} FROM ops_backup_runs "
            "WHERE status = 'running' AND backup_id IS DISTINCT FROM %s"
        ).format(cols=_RUN),
        (exclude,),
    )
    return cast(list[BackupRunRow], cur.fetchall())


def get_run(cur: Cursor, backup_id: str) -> BackupRunRow | None:
    cur.execute(
        sql.SQL("SELECT {cols} FROM ops_backup_runs WHERE backup_id = %s").format(cols=_RUN),
        (backup_id,),
    )
    return cast(BackupRunRow | None, cur.fetchone())


def chain_tip(cur: Cursor) -> tuple[BackupRunRow | None, BackupRunRow | None]:
    """(newest succeeded full backup, newest succeeded backup of its chain) or (None, None)."""
    cur.execute(
        sql.SQL("""
        SELECT {cols} FROM ops_backup_runs
        WHERE kind = 'full' AND status = 'succeeded' AND pruned_at IS NULL
        ORDER BY snapshot_at DESC LIMIT 1
        """).format(cols=_RUN)
    )
    full = cast(BackupRunRow | None, cur.fetchone())
    if full is None:
        return None, None
    cur.execute(
        sql.SQL("""
        SELECT {cols} FROM ops_backup_runs
        WHERE status = 'succeeded' AND pruned_at IS NULL
          AND (backup_id = %(full)s OR base_backup_id = %(full)s)
        ORDER BY snapshot_at DESC LIMIT 1
        """).format(cols=_RUN),
        {"full": full["backup_id"]},
    )
    return full, cast(BackupRunRow | None, cur.fetchone())


def count_incrementals(cur: Cursor, base_backup_id: str) -> int:
    """Succeeded incrementals built on the full backup `base_backup_id` (its chain's length)."""
    cur.execute(
        """
        SELECT count(*) AS incrementals FROM ops_backup_runs
        WHERE kind = 'incremental' AND status = 'succeeded' AND base_backup_id = %(base)s
        """,
        {"base": base_backup_id},
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["incrementals"])


def list_runs(cur: Cursor, *, limit: int, offset: int) -> tuple[list[BackupRunRow], int]:
    cur.execute("SELECT count(*) AS total FROM ops_backup_runs")
    counted = cur.fetchone()
    assert counted is not None
    total = int(counted["total"])
    cur.execute(
        sql.SQL("""
        SELECT {cols} FROM ops_backup_runs
        ORDER BY started_at DESC, backup_id DESC
        LIMIT %s OFFSET %s
        """).format(cols=_RUN),
        (limit, offset),
    )
    return cast(list[BackupRunRow], cur.fetchall()), total


def mark_pruned(cur: Cursor, backup_ids: list[str]) -> None:
    if backup_ids:
        cur.execute(
            "UPDATE ops_backup_runs SET pruned_at = now() WHERE backup_id = ANY(%s)",
            (backup_ids,),
        )


def latest_successes(cur: Cursor) -> dict[str, BackupRunRow | None]:
    """The newest succeeded backup of each kind, and of any kind."""
    result: dict[str, BackupRunRow | None] = {}
    for kind in ("full", "incremental", None):
        cur.execute(
            sql.SQL("""
            SELECT {cols} FROM ops_backup_runs
            WHERE status = 'succeeded' AND (%(kind)s::text IS NULL OR kind = %(kind)s)
            ORDER BY snapshot_at DESC LIMIT 1
            """).format(cols=_RUN),
            {"kind": kind},
        )
        result[kind or "any"] = cast(BackupRunRow | None, cur.fetchone())
    return result


# -- change log -------------------------------------------------------------------------------


def prune_row_changes(cur: Cursor, snapshot: str) -> int:
    """Forget logged changes every later incremental will see as already backed up."""
    cur.execute(
        "DELETE FROM ops_row_changes WHERE txid < txid_snapshot_xmin(%s::txid_snapshot)",
        (snapshot,),
    )
    return int(cur.rowcount)


# -- restore drills ---------------------------------------------------------------------------

DRILL_COLUMNS = """
    drill_id, backup_id, status, started_at, finished_at, rto_seconds::float8 AS rto_seconds,
    tables, rows, mismatches, error
"""
_DRILL = sql.SQL(DRILL_COLUMNS)


def insert_drill(cur: Cursor, backup_id: str | None) -> DrillRow:
    cur.execute(
        sql.SQL("INSERT INTO ops_restore_drills (backup_id) VALUES (%s) RETURNING {cols}").format(
            cols=_DRILL
        ),
        (backup_id,),
    )
    return cast(DrillRow, cur.fetchone())


def finish_drill(
    cur: Cursor,
    drill_id: int,
    *,
    status: str,
    backup_id: str | None,
    rto_seconds: float | None,
    tables: int | None,
    rows: int | None,
    mismatches: list[dict[str, Any]],
    error: str | None,
) -> DrillRow:
    cur.execute(
        sql.SQL("""
        UPDATE ops_restore_drills
        SET status = %s, finished_at = clock_timestamp(), backup_id = %s, rto_seconds = %s,
            tables = %s, rows = %s, mismatches = %s, error = %s
        WHERE drill_id = %s
        RETURNING {cols}
        """).format(cols=_DRILL),
        (status, backup_id, rto_seconds, tables, rows, Json(mismatches), error, drill_id),
    )
    return cast(DrillRow, cur.fetchone())


def fail_running_drills(cur: Cursor) -> int:
    """Drills still marked running. Call only while holding the drill lock: they are dead."""
    cur.execute(
        """
        UPDATE ops_restore_drills
        SET status = 'failed', finished_at = clock_timestamp(),
            error = coalesce(error, 'abandoned: the drill did not finish')
        WHERE status = 'running'
        """
    )
    return int(cur.rowcount)


def drills_for(cur: Cursor, backup_ids: list[str]) -> dict[str, list[DrillRow]]:
    """Drills of these backups, newest first, by backup id."""
    if not backup_ids:
        return {}
    cur.execute(
        sql.SQL("""
        SELECT {cols} FROM ops_restore_drills
        WHERE backup_id = ANY(%s) ORDER BY started_at DESC
        """).format(cols=_DRILL),
        (backup_ids,),
    )
    result: dict[str, list[DrillRow]] = {}
    for row in cast(list[DrillRow], cur.fetchall()):
        result.setdefault(str(row["backup_id"]), []).append(row)
    return result


def latest_drill(cur: Cursor) -> DrillRow | None:
    cur.execute(
        sql.SQL("SELECT {cols} FROM ops_restore_drills ORDER BY started_at DESC LIMIT 1").format(
            cols=_DRILL
        )
    )
    return cast(DrillRow | None, cur.fetchone())


# -- health snapshots -------------------------------------------------------------------------


def insert_health_snapshot(
    cur: Cursor, *, status: str, checks: dict[str, Any], problems: list[str]
) -> HealthSnapshotRow:
    cur.execute(
        """
        INSERT INTO ops_health_snapshots (status, checks, problems) VALUES (%s, %s, %s)
        RETURNING snapshot_id, checked_at, status, checks, problems
        """,
        (status, Json(checks, dumps=_dumps), Json(problems)),
    )
    return cast(HealthSnapshotRow, cur.fetchone())


def latest_health_snapshot(cur: Cursor) -> HealthSnapshotRow | None:
    cur.execute(
        """
        SELECT snapshot_id, checked_at, status, checks, problems
        FROM ops_health_snapshots ORDER BY checked_at DESC LIMIT 1
        """
    )
    return cast(HealthSnapshotRow | None, cur.fetchone())


def prune_health_snapshots(cur: Cursor, *, keep_days: int) -> int:
    cur.execute(
        "DELETE FROM ops_health_snapshots WHERE checked_at < now() - make_interval(days => %s)",
        (keep_days,),
    )
    return int(cur.rowcount)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
