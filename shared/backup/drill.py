"""The restore drill: prove the newest backup restores, and measure how long it takes (RTO).

Weekly, the drill restores the newest backup chain into a scratch database on the same server,
checks every table of the full backup against the manifest's checksum (recomputed from the
restored rows, in key order), checks every table's row count after the incrementals against the
last manifest, drops the scratch database, and records the result and the measured time in
`ops_restore_drills`, which `GET /api/admin/backups` shows. Given an `actor`, a drill that ran
(not skipped) appends one `export` audit event (resource_type `restore_drill`) to the live
database: the scratch database, and any event in it, is dropped.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg2 import sql

from shared.audit import AuditActor
from shared.backup import export_audit, ops_records
from shared.backup.blobio import HashingWriter
from shared.backup.data_tables import TableInfo
from shared.backup.locks import job_lock
from shared.backup.manifest import Manifest
from shared.backup.ops_records import DrillRow
from shared.backup.restore import restore_chain
from shared.backup.sessions import connect, dict_cursor
from shared.backup.stored_backups import resolve_chain
from shared.backup.writer import full_copy_query
from shared.observability import get_logger, redact_text

log = get_logger("backup.drill")

DRILL_LOCK = "restore_drill"
MAINTENANCE_DATABASE = "postgres"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (host, credentials and options kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def _on_server(url: str, statement: sql.Composable) -> None:
    conn = connect(with_database(url, MAINTENANCE_DATABASE), autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def table_checksum(conn: Any, cur: Any, table: TableInfo) -> tuple[int, str]:
    """(rows, sha256) of a table's COPY text in key order, as a full backup computes it."""
    sink = HashingWriter()
    cur.copy_expert(full_copy_query(table).as_string(conn), sink)
    digest = sink.hexdigest()  # flushes the last chunk, which also counts its rows
    return sink.rows, digest


def run_restore_drill(
    database_url: str, container: Any, *, progress: Any = None, actor: AuditActor | None = None
) -> DrillRow | dict[str, Any]:
    """Run one drill; returns its `ops_restore_drills` record (or status "skipped").

    With `actor`, the drill is audited in the live database (shared.backup.export_audit)."""
    with job_lock(database_url, DRILL_LOCK) as lock:
        if not lock.acquired:
            log.warning("restore_drill_skipped", reason="another drill is running")
            return {"status": "skipped", "error": "another drill is running"}
        control = dict_cursor(lock.connection)
        ops_records.fail_running_drills(control)
        drill = ops_records.insert_drill(control, None)
        started = time.perf_counter()
        mismatches: list[dict[str, Any]] = []
        backup_id = None
        tables = rows = None
        error = None
        scratch = f"neulbom_drill_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
        created = False
        dropped = False
        restored: dict[str, int] = {}
        try:
            chain = resolve_chain(container)
            backup_id = chain[-1].backup_id
            _on_server(
                database_url,
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(scratch)
                ),
            )
            created = True

            def compare(cur: Any, found: list[TableInfo], full: Manifest) -> None:
                by_name = {table.name: table for table in found}
                for entry in full.tables:
                    count, digest = table_checksum(cur.connection, cur, by_name[entry.name])
                    if entry.data and (count, digest) != (entry.rows, entry.data.content_sha256):
                        mismatches.append(
                            {
                                "table": entry.name,
                                "backup_id": full.backup_id,
                                "expected_rows": entry.rows,
                                "restored_rows": count,
                                "checksum_matches": digest == entry.data.content_sha256,
                            }
                        )

            report = restore_chain(
                container,
                chain,
                with_database(database_url, scratch),
                progress=progress,
                after_full_load=compare,
            )
            tables, rows = len(report.tables), report.rows
            restored = {table.name: table.restored_rows for table in report.tables}
            mismatches.extend(
                {
                    "table": t.name,
                    "backup_id": backup_id,
                    "expected_rows": t.expected_rows,
                    "restored_rows": t.restored_rows,
                }
                for t in report.tables
                if not t.ok
            )
        except Exception as exc:
            error = redact_text(f"{type(exc).__name__}: {exc}")[:2000]
        rto = round(time.perf_counter() - started, 3)
        if created:
            try:
                _on_server(
                    database_url,
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(scratch)
                    ),
                )
                dropped = True
            except Exception as exc:  # report it, but the drill's verdict stands
                log.error(
                    "restore_drill_cleanup_failed", database=scratch, error=type(exc).__name__
                )
        status = "succeeded" if error is None and not mismatches else "failed"
        record = ops_records.finish_drill(
            control,
            drill["drill_id"],
            status=status,
            backup_id=backup_id,
            rto_seconds=rto if error is None else None,
            tables=tables,
            rows=rows,
            mismatches=mismatches,
            error=error or (f"{len(mismatches)} table(s) differ" if mismatches else None),
        )
        if actor is not None:
            export_audit.record_drill(
                control,
                actor,
                drill_id=drill["drill_id"],
                backup_id=backup_id,
                outcome=status,
                scratch_database=scratch,
                scratch_dropped=dropped or not created,
                tables=restored,
            )
        else:
            log.warning("restore_drill_not_audited", reason="no actor given")
    event = log.info if status == "succeeded" else log.error
    event(
        "restore_drill_completed",
        status=status,
        backup_id=backup_id,
        rto_seconds=rto,
        mismatches=len(mismatches),
        error=error,
    )
    return record
