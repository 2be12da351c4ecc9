"""Weekly database maintenance (the `db_maintenance` timer): VACUUM (ANALYZE) where rows
churn, and pruning.

VACUUM cannot run in a transaction, so this uses its own autocommit connection. The busy
tables are the ones the app writes all day, plus any other table with dead rows; only tables the
connected role owns are vacuumed (PostgreSQL skips others with a warning), so under the app's
own role (migration 0006, which owns nothing) autovacuum does that work and `vacuumed` is empty.
Pruning: login attempts past the throttle's window, audit events past their two-year retention
(through `ops_prune_audit_events`, which refuses a younger cutoff, as the table's trigger refuses
younger rows, so a bug here cannot delete what the law keeps), health snapshots older than 30
days, `Idempotency-Key` answers older than `IDEMPOTENCY_KEY_TTL_HOURS`. Each run that was not
skipped is recorded as an audit event (`delete` of resource_type
`db_maintenance`, with what it pruned and vacuumed, patient_id NULL): it deletes personal data
(sign-in attempts, old audit events), and `ops-check` reads the newest one (`last_run`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from psycopg2 import sql

from shared import audit
from shared.audit import AuditAction, AuditActor, SystemActor
from shared.backup import ops_records
from shared.backup.data_tables import SCHEMA
from shared.backup.locks import job_lock
from shared.backup.sessions import database_url, dict_cursor
from shared.db import Cursor
from shared.observability import get_logger

log = get_logger("operations.maintenance")

MAINTENANCE_LOCK = "db_maintenance"
BUSY_TABLES = (
    "care_logs",
    "audit_events",
    "schedules",
    "login_attempts",
    "matching_results",
    "users",
    "ops_row_changes",
    "ops_backup_runs",
)
AUDIT_RETENTION = "2 years"
AUDIT_BATCH = 10_000
HEALTH_SNAPSHOT_DAYS = 30
AUDIT_RESOURCE = "db_maintenance"


def tables_to_vacuum(cur: Cursor) -> list[str]:
    cur.execute(
        """
        SELECT relname FROM pg_stat_user_tables
        WHERE schemaname = %s AND (relname = ANY(%s) OR n_dead_tup > 0)
          AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = relid), 'USAGE')
        ORDER BY n_dead_tup DESC, relname
        """,
        (SCHEMA, list(BUSY_TABLES)),
    )
    return [row["relname"] for row in cur.fetchall()]


def prune(cur: Cursor) -> dict[str, int]:
    """Delete expired rows; {what: rows deleted}."""
    from shared import idempotency, rate_limits
    from shared.auth.login_throttle import prune_expired

    pruned = {
        "login_attempts": prune_expired(cur),
        "ops_rate_limits": rate_limits.prune_expired(cur),
        "idempotency_keys": idempotency.prune_expired(cur),
    }
    audit = 0
    while True:
        # The app's role may not DELETE audit events: the owner's SECURITY DEFINER function
        # does, and refuses a cutoff younger than the retention (migration 0006).
        cur.execute(
            "SELECT ops_prune_audit_events(now() - %s::interval, %s) AS deleted",
            (AUDIT_RETENTION, AUDIT_BATCH),
        )
        row = cur.fetchone()
        deleted = int(row["deleted"]) if row else 0
        audit += deleted
        if deleted < AUDIT_BATCH:
            break
    pruned["audit_events"] = audit
    pruned["ops_health_snapshots"] = ops_records.prune_health_snapshots(
        cur, keep_days=HEALTH_SNAPSHOT_DAYS
    )
    return pruned


def run_maintenance(database_url: str, *, actor: AuditActor | None = None) -> dict[str, Any]:
    """Prune, then vacuum and analyze, then record the run as `actor` (by default the
    db_maintenance timer); returns what was done (or status "skipped")."""
    with job_lock(database_url, MAINTENANCE_LOCK) as lock:
        if not lock.acquired:
            log.warning("db_maintenance_skipped", reason="another run is going")
            return {"status": "skipped"}
        cur = dict_cursor(lock.connection)
        pruned = prune(cur)
        vacuumed: dict[str, float] = {}
        for table in tables_to_vacuum(cur):
            started = time.perf_counter()
            cur.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(SCHEMA, table)))
            vacuumed[table] = round(time.perf_counter() - started, 3)
        audit.record(
            cur,
            actor or SystemActor.timer(MAINTENANCE_LOCK),
            AuditAction.DELETE,
            patient_id=None,
            resource_type=AUDIT_RESOURCE,
            detail={"pruned": pruned, "vacuumed": sorted(vacuumed)},
        )
    log.info("db_maintenance_completed", pruned=pruned, vacuumed=vacuumed)
    return {"status": "succeeded", "pruned": pruned, "vacuumed": vacuumed}


def last_run(cur: Cursor) -> datetime | None:
    """When the newest recorded maintenance run finished, or None if none ever did."""
    cur.execute(
        """
        SELECT max(occurred_at) AS finished_at FROM audit_events
        WHERE patient_id IS NULL AND resource_type = %s
        """,
        (AUDIT_RESOURCE,),
    )
    row = cur.fetchone()
    return row["finished_at"] if row else None


def db_maintenance() -> dict[str, Any]:
    """The timer's entry point: `run_maintenance` on the app's database."""
    return run_maintenance(database_url())
