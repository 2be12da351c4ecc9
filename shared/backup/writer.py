"""Full and incremental backups: one snapshot, one gzip'd COPY stream per table, manifest last.

A backup reads everything in REPEATABLE READ, read-only transactions that share one snapshot,
so every table is as of the same instant (`snapshot_at`), and records that snapshot as the
watermark of the next incremental. The first connection exports its snapshot
(`pg_export_snapshot`); the others (`BACKUP_PARALLEL_CONNECTIONS` in all, default 2) import it
(`SET TRANSACTION SNAPSHOT`), and the tables are shared out largest first to whichever
connection is free. A failure on any connection stops the others and fails the run.
A full backup copies each table ordered by its primary key, which makes
the stream's sha256 a checksum of the table that a drill can recompute. An incremental copies,
per table, the keys logged in `ops_row_changes` by transactions its predecessor could not see,
and the current rows for those keys (keys without a row are deletions); see migration 0002.

Runs are serialised by the `backup` advisory lock; a second caller is told "skipped". The run
is recorded in `ops_backup_runs` before any blob is written, and marked succeeded only after its
manifest exists. While it works, a heartbeat renews the run's lease (shared.jobs.lease), so a
run whose worker died stops looking like one in progress. A run that dies leaves
staged-but-uncommitted blocks, committed table blobs at most, and never a manifest; the next run
marks it failed (or succeeded, if its manifest did make it), and retention removes its leftovers.
A queue job (`job_id`, a row recorded `queued` by shared.backup.service) is claimed under the
lock instead of inserted; if its worker died, the next run puts it back to `queued` and its
redelivered message starts it over, as the same row.

Given an `actor`, a settled run (succeeded or failed, not skipped) appends one `export` audit
event to the database it backed up (shared.backup.export_audit); the entry points in
shared.backup.service always give one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg2.extensions
from psycopg2 import sql

from shared.audit import AuditActor
from shared.backup import export_audit, layout, ops_records
from shared.backup.blobio import BlockUploader, CopySink, upload_small
from shared.backup.data_tables import TableInfo, discover_tables, table_sizes
from shared.backup.locks import BACKUP_LOCK, job_lock
from shared.backup.manifest import BlobEntry, Manifest, TableEntry
from shared.backup.ops_records import BackupRunRow
from shared.backup.sessions import connect, dict_cursor, parallel_connections, share_work
from shared.backup.signing import read_manifest, signed_json, signing_key
from shared.backup.stored_backups import MAX_CHAIN_INCREMENTALS
from shared.db import Cursor
from shared.jobs.lease import MAX_ATTEMPTS, Heartbeat, worker_name
from shared.observability import get_logger, redact_text

log = get_logger("backup")

Progress = Callable[..., None]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BackupResult:
    """What a backup call did: `succeeded`, `failed`, `skipped` (another run holds the lock) or,
    for a queue job, `settled` (it had already finished: nothing was done)."""

    status: str
    kind: str
    backup_id: str | None = None
    run: BackupRunRow | None = None
    manifest: Manifest | None = None
    error: str | None = None
    duration_s: float = 0.0


def _no_progress(_event: str, **_fields: Any) -> None:
    return None


def run_backup(
    database_url: str,
    container: Any,
    *,
    kind: str = "full",
    requested_by: str = "timer",
    progress: Progress | None = None,
    clock: Clock = utcnow,
    retention_days: int | None = None,
    actor: AuditActor | None = None,
    job_id: str | None = None,
    lease_seconds: float = 120.0,
) -> BackupResult:
    """Make one backup of `kind` ("full" or "incremental") into the Blob `container`.

    An incremental without a full backup to build on, or after a schema migration, becomes a
    full backup. Never raises for a storage or copy failure: the run is recorded failed and the
    result says why. With `retention_days`, a succeeded full backup is followed by pruning
    (under the same lock, so pruning never races a backup). With `actor`, the settled run is
    audited (an `export` event naming the actor); without one it is not (and a warning says so).
    With `job_id`, the run is that queued job's row (its kind wins), claimed here; `lease_seconds`
    is the lease the heartbeat keeps renewing.
    """
    if kind not in layout.KIND_TAGS:
        raise ValueError(f"unknown backup kind {kind!r}")
    progress = progress or _no_progress
    started = time.perf_counter()
    with job_lock(database_url, BACKUP_LOCK) as lock:
        if not lock.acquired:
            log.warning("backup_skipped", kind=kind, reason="another backup is running")
            return BackupResult(status="skipped", kind=kind, error="another backup is running")
        control = dict_cursor(lock.connection)
        recover_abandoned_runs(control, container)
        worker = worker_name()
        job = None
        if job_id is not None:
            job = ops_records.claim_job(
                control, job_id, worker=worker, lease_seconds=lease_seconds, started_at=clock()
            )
            if job is None:
                log.info("backup_job_already_settled", backup_id=job_id)
                return BackupResult(status="settled", kind=kind, backup_id=job_id)
            kind = job["kind"]
        full, previous = ops_records.chain_tip(control) if kind == "incremental" else (None, None)
        if kind == "incremental":
            revision = _alembic_revision(control)
            if full is None or previous is None:
                log.info("incremental_without_base", action="running a full backup instead")
                kind = "full"
            elif full["alembic_revision"] != revision:
                log.info("incremental_after_migration", action="running a full backup instead")
                kind, full, previous = "full", None, None
            elif ops_records.count_incrementals(control, full["backup_id"]) >= (
                MAX_CHAIN_INCREMENTALS
            ):  # a restore would refuse a longer chain
                log.info("incremental_chain_full", action="running a full backup instead")
                kind, full, previous = "full", None, None
        result = _run_locked(
            database_url,
            container,
            control,
            kind=kind,
            full=full,
            previous=previous,
            requested_by=requested_by,
            progress=progress,
            clock=clock,
            job=job,
            worker=worker,
            lease_seconds=lease_seconds,
        )
        if actor is not None and result.backup_id is not None:
            export_audit.record_backup(
                control,
                actor,
                backup_id=result.backup_id,
                kind=result.kind,
                outcome=result.status,
                requested_by=requested_by,
                manifest=result.manifest,
            )
        elif actor is None:
            log.warning("backup_not_audited", backup_id=result.backup_id, reason="no actor given")
        if result.status == "succeeded" and result.kind == "full" and retention_days:
            _prune(container, control, retention_days, clock())
    duration = round(time.perf_counter() - started, 3)
    return BackupResult(**{**result.__dict__, "duration_s": duration})


def _prune(container: Any, control: Cursor, retention_days: int, now: datetime) -> None:
    from shared.backup.retention import prune_backups

    try:
        report = prune_backups(container, retention_days=retention_days, now=now)
        ops_records.mark_pruned(control, report.deleted + report.orphans_deleted)
    except Exception as exc:  # the backup itself succeeded; pruning retries tomorrow
        log.error("backup_prune_failed", error=redact_text(f"{type(exc).__name__}: {exc}"))


def recover_abandoned_runs(control: Cursor, container: Any) -> None:
    """Settle runs left `running` by a dead worker (we hold the lock, so none is alive).

    A queue job without its manifest goes back to `queued` for its redelivered message (until it
    has been started MAX_ATTEMPTS times); any other run without one has failed."""
    for run in ops_records.running_runs(control):
        manifest = None
        if run["snapshot"] is not None:
            try:
                blob = container.get_blob_client(layout.manifest_blob(run["backup_id"]))
                manifest = read_manifest(
                    blob.download_blob().readall(), signing_key(), name=run["backup_id"]
                )
            except Exception:  # missing, unreadable, unsigned or storage down: not complete
                manifest = None
        if manifest is not None:
            ops_records.finish_run(
                control,
                run["backup_id"],
                status="succeeded",
                tables=len(manifest.tables),
                rows=manifest.rows,
                size=manifest.bytes,
            )
        elif run["queued_at"] is not None and run["attempts"] < MAX_ATTEMPTS:
            ops_records.requeue_run(
                control,
                run["backup_id"],
                note=f"attempt {run['attempts']} stopped (worker {run['worker']}); "
                "waiting for the job's message to start it over",
            )
        else:
            ops_records.finish_run(
                control,
                run["backup_id"],
                status="failed",
                error="abandoned: the run stopped before its manifest was written",
            )
        log.warning(
            "backup_run_abandoned",
            backup_id=run["backup_id"],
            recovered=bool(manifest),
            worker=run["worker"],
            attempts=run["attempts"],
        )


def _run_locked(
    database_url: str,
    container: Any,
    control: Cursor,
    *,
    kind: str,
    full: BackupRunRow | None,
    previous: BackupRunRow | None,
    requested_by: str,
    progress: Progress,
    clock: Clock,
    job: BackupRunRow | None,
    worker: str,
    lease_seconds: float,
) -> BackupResult:
    if job is not None:
        backup_id, started_at = job["backup_id"], job["started_at"]
        if job["attempts"] > 1:  # what the previous attempt left
            _discard_partial(container, backup_id)
            log.warning("backup_job_resumed", backup_id=backup_id, attempt=job["attempts"])
    else:
        started_at = clock()
        backup_id = layout.new_backup_id(kind, started_at)
        ops_records.insert_run(
            control,
            backup_id=backup_id,
            kind=kind,
            blob_prefix=layout.data_prefix(backup_id),
            started_at=started_at,
            requested_by=requested_by,
            base_backup_id=full["backup_id"] if full else None,
            previous_backup_id=previous["backup_id"] if previous else None,
            worker=worker,
            lease_seconds=lease_seconds,
        )
    log.info(
        "backup_started", backup_id=backup_id, kind=kind, requested_by=requested_by, worker=worker
    )
    progress("backup_started", backup_id=backup_id, kind=kind)
    try:
        with Heartbeat(
            _lease_renewer(control, backup_id, worker, lease_seconds), lease_seconds, name=backup_id
        ):
            manifest = _write_backup(
                database_url,
                container,
                control,
                backup_id=backup_id,
                kind=kind,
                started_at=started_at,
                full=full,
                previous=previous,
                progress=progress,
                clock=clock,
            )
    except Exception as exc:
        error = redact_text(f"{type(exc).__name__}: {exc}")[:2000]
        run = ops_records.finish_run(control, backup_id, status="failed", error=error)
        _discard_partial(container, backup_id)
        log.error("backup_failed", backup_id=backup_id, kind=kind, error=error)
        progress("backup_failed", backup_id=backup_id, error=error)
        return BackupResult(status="failed", kind=kind, backup_id=backup_id, run=run, error=error)
    run = ops_records.finish_run(
        control,
        backup_id,
        status="succeeded",
        tables=len(manifest.tables),
        rows=manifest.rows,
        size=manifest.bytes,
    )
    pruned = ops_records.prune_row_changes(control, manifest.snapshot)
    log.info(
        "backup_succeeded",
        backup_id=backup_id,
        kind=kind,
        rows=manifest.rows,
        bytes=manifest.bytes,
        duration_s=run["duration_s"],
        change_log_pruned=pruned,
    )
    progress("backup_succeeded", backup_id=backup_id, rows=manifest.rows, bytes=manifest.bytes)
    return BackupResult(
        status="succeeded", kind=kind, backup_id=backup_id, run=run, manifest=manifest
    )


def _lease_renewer(
    control: Cursor, backup_id: str, worker: str, lease_seconds: float
) -> Callable[[], bool]:
    """A heartbeat's renew: its own cursor on the lock's connection (psycopg2 serialises them)."""
    conn = control.connection

    def renew() -> bool:
        with dict_cursor(conn) as cur:
            return ops_records.renew_lease(
                cur, backup_id, worker=worker, lease_seconds=lease_seconds
            )

    return renew


def _alembic_revision(cur: Any) -> str | None:
    cur.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL AS present")
    if not _first(cur.fetchone()):
        return None
    cur.execute("SELECT version_num FROM alembic_version")
    row = cur.fetchone()
    return _first(row) if row else None


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _write_backup(
    database_url: str,
    container: Any,
    control: Cursor,
    *,
    backup_id: str,
    kind: str,
    started_at: datetime,
    full: BackupRunRow | None,
    previous: BackupRunRow | None,
    progress: Progress,
    clock: Clock,
) -> Manifest:
    key = signing_key()  # before any blob is written: without a key there is no backup
    connections = [connect(database_url, application_name="neulbomcare-backup")]
    try:
        leader = connections[0]
        leader.set_session(
            isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
        )
        with leader.cursor() as cur:
            # The first statement fixes the transaction's snapshot: everything below sees it,
            # and so do the other connections, which import it (pg_export_snapshot).
            cur.execute(
                "SELECT txid_current_snapshot()::text, clock_timestamp(), pg_export_snapshot()"
            )
            first = cur.fetchone()
            assert first is not None
            snapshot, snapshot_at, exported = first
            revision = _alembic_revision(cur)
            ops_records.record_snapshot(
                control,
                backup_id,
                snapshot=snapshot,
                snapshot_at=snapshot_at,
                alembic_revision=revision,
            )
            tables = discover_tables(cur)
            sizes = table_sizes(cur, tables)
            since = previous["snapshot"] if previous else None
            changed = _changed_tables(cur, since) if since else {}
        for _ in range(1, min(parallel_connections(), len(tables))):
            connections.append(_snapshot_reader(database_url, exported))
        entries = _backup_tables(
            connections,
            container,
            backup_id,
            tables,
            sizes,
            since,
            changed,
            progress,
        )
        for conn in connections:
            conn.rollback()
    finally:
        for conn in connections:
            conn.close()
    manifest = Manifest(
        backup_id=backup_id,
        kind=kind,
        started_at=started_at,
        finished_at=clock(),
        snapshot_at=snapshot_at,
        snapshot=snapshot,
        alembic_revision=revision,
        base_backup_id=full["backup_id"] if full else None,
        previous_backup_id=previous["backup_id"] if previous else None,
        tables=tuple(entries),
    )
    # Last, and signed (shared.backup.signing): only now is the backup complete.
    upload_small(
        container.get_blob_client(layout.manifest_blob(backup_id)),
        signed_json(manifest, key),
        metadata=manifest_metadata(manifest),
    )
    return manifest


def _snapshot_reader(database_url: str, exported: str) -> psycopg2.extensions.connection:
    """Another connection reading the leader's snapshot (the leader keeps it open)."""
    conn = connect(database_url, application_name="neulbomcare-backup")
    try:
        conn.set_session(
            isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
        )
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION SNAPSHOT %s", (exported,))
    except BaseException:
        conn.close()
        raise
    return conn


def _backup_tables(
    connections: list[psycopg2.extensions.connection],
    container: Any,
    backup_id: str,
    tables: list[TableInfo],
    sizes: dict[str, int],
    since: str | None,
    changed: dict[str, bool],
    progress: Progress,
) -> list[TableEntry]:
    """Every table's blobs, largest table first to whichever connection is free; the entries
    in `tables`' (dependency) order, whatever order they finished in. Any failure raises, after
    the other connections stopped (shared.backup.sessions.share_work)."""
    done: dict[str, TableEntry] = {}
    guard = threading.Lock()

    def back_up(conn: psycopg2.extensions.connection, table: TableInfo) -> None:
        with conn.cursor() as cur:
            entry = _backup_table(conn, cur, container, backup_id, table, since, changed)
        with guard:
            done[table.name] = entry
            progress(
                "table_done",
                backup_id=backup_id,
                table=table.name,
                mode=entry.mode,
                rows=entry.rows,
                bytes=entry.bytes,
                index=len(done),
                total=len(tables),
            )

    largest_first = sorted(tables, key=lambda t: sizes.get(t.name, 0), reverse=True)
    share_work(connections, largest_first, back_up)
    return [done[table.name] for table in tables]


def manifest_metadata(manifest: Manifest) -> dict[str, str]:
    """What retention needs from a manifest without downloading it (Blob metadata)."""
    return {
        "kind": manifest.kind,
        "base_backup_id": manifest.base_backup_id or "",
        "snapshot_at": manifest.snapshot_at.astimezone(UTC).isoformat(),
        "rows": str(manifest.rows),
        "bytes": str(manifest.bytes),
    }


_CHANGED_TABLES = """
SELECT table_name, bool_or(op = 'T' OR row_key IS NULL)
FROM ops_row_changes
WHERE txid >= txid_snapshot_xmin(%(since)s::txid_snapshot)
  AND NOT txid_visible_in_snapshot(txid, %(since)s::txid_snapshot)
GROUP BY table_name
"""


def _changed_tables(cur: Any, since: str) -> dict[str, bool]:
    """{table: whole table changed (TRUNCATE)} for changes committed after snapshot `since`."""
    cur.execute(_CHANGED_TABLES, {"since": since})
    return {name: bool(whole) for name, whole in cur.fetchall()}


def _changed_keys(table: TableInfo, since: str) -> sql.Composable:
    """The distinct keys of `table` logged after snapshot `since`, typed like the table's."""
    return sql.SQL(
        "SELECT DISTINCT {key_cols} FROM ops_row_changes c "
        "CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, c.row_key) k "
        "WHERE c.table_name = {name} AND c.row_key IS NOT NULL "
        "AND c.txid >= txid_snapshot_xmin({since}::txid_snapshot) "
        "AND NOT txid_visible_in_snapshot(c.txid, {since}::txid_snapshot)"
    ).format(
        key_cols=sql.SQL(", ").join(sql.Identifier("k", c) for c in table.key_columns),
        table=table.ident,
        name=sql.Literal(table.name),
        since=sql.Literal(since),
    )


def full_copy_query(table: TableInfo) -> sql.Composable:
    """The whole table in key order: the stream whose sha256 is the table's checksum."""
    return sql.SQL("COPY (SELECT {cols} FROM {table} ORDER BY {order}) TO STDOUT").format(
        cols=table.column_list(), table=table.ident, order=table.order_by()
    )


def _backup_table(
    conn: Any,
    cur: Any,
    container: Any,
    backup_id: str,
    table: TableInfo,
    since: str | None,
    changed: dict[str, bool],
) -> TableEntry:
    def entry(
        mode: str, table_rows: int, data: BlobEntry | None = None, keys: BlobEntry | None = None
    ) -> TableEntry:
        return TableEntry(
            name=table.name,
            columns=table.columns,
            key_columns=table.key_columns,
            mode=mode,
            table_rows=table_rows,
            data=data,
            keys=keys,
        )

    if since is None:
        data = _copy_to_blob(conn, cur, container, layout.rows_blob(backup_id, table.name),
                             full_copy_query(table))  # fmt: skip
        return entry("full", data.rows, data)
    if not table.tracked or changed.get(table.name):
        if not table.tracked:
            log.warning("table_not_tracked", table=table.name, action="copied whole")
        data = _copy_to_blob(conn, cur, container, layout.rows_blob(backup_id, table.name),
                             full_copy_query(table))  # fmt: skip
        return entry("replace", data.rows, data)
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table.ident))
    table_rows = cur.fetchone()[0]
    if table.name not in changed:
        return entry("unchanged", table_rows)
    keys_query = _changed_keys(table, since)
    keys = _copy_to_blob(
        conn,
        cur,
        container,
        layout.keys_blob(backup_id, table.name),
        sql.SQL("COPY ({keys} ORDER BY {order}) TO STDOUT").format(
            keys=keys_query,
            order=sql.SQL(", ").join(map(sql.Literal, range(1, 1 + len(table.key_columns)))),
        ),
    )
    rows_query = sql.SQL(
        "COPY (SELECT {cols} FROM {table} t WHERE ({key}) IN ({keys}) ORDER BY {order}) TO STDOUT"
    ).format(
        cols=table.column_list("t"),
        table=table.ident,
        key=sql.SQL(", ").join(sql.Identifier("t", c) for c in table.key_columns),
        keys=keys_query,
        order=table.order_by("t"),
    )
    data = _copy_to_blob(conn, cur, container, layout.rows_blob(backup_id, table.name), rows_query)
    return entry("upsert", table_rows, data, keys)


def _copy_to_blob(
    conn: Any, cur: Any, container: Any, blob_name: str, query: sql.Composable
) -> BlobEntry:
    sink = CopySink(BlockUploader(container.get_blob_client(blob_name)))
    try:
        cur.copy_expert(query.as_string(conn), sink)
    except BaseException:
        sink.abort()
        raise
    return sink.close(blob_name)


def _discard_partial(container: Any, backup_id: str) -> None:
    """Best effort: delete the table blobs of a failed run (retention retries later)."""
    try:
        for blob in container.list_blobs(name_starts_with=layout.data_prefix(backup_id)):
            container.delete_blob(blob.name)
    except Exception as exc:  # storage may be what failed
        log.info("backup_leftovers_kept", backup_id=backup_id, reason=type(exc).__name__)
