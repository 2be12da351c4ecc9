"""Restoring a chain of backups (a full backup and its incrementals) into a database.

Order of work, each step refusing before the next one writes anything:

1. Look at the target: it must be empty (no tables), or migrated to the backup's revision with
   no rows, unless `replace=True`, which drops and recreates its `public` schema.
2. Download every blob of the chain to a local spool while checking its size and sha256 against
   the manifests. Any mismatch stops the restore here, with the target untouched.
3. Migrate the target with Alembic to the revision recorded in the manifests.
4. Load on `BACKUP_PARALLEL_CONNECTIONS` connections (default 2), as `pg_restore -j` does. The
   target was empty or cleared, so the load is all-or-nothing by what a failure does to it
   rather than by one transaction: first, in one transaction, a marker table
   (`ops_restore_unfinished`) is created, user triggers disabled (they would log or reject the
   load), foreign keys, primary and unique keys and secondary indexes dropped; then the tables
   are loaded with `COPY ... FROM STDIN` largest first on whichever connection is free; keys and
   indexes rebuilt in parallel (rebuilding them re-validates every unique rule); each
   incremental applied (delete its keys, load its rows); foreign keys added NOT VALID and
   validated in parallel (every reference checked); and in a last transaction triggers
   enabled, sequences reset past the highest id, every table's row count compared with the
   last manifest and the marker dropped. Any failure (on any connection, or a count that
   differs) empties the target's `public` schema; a process that dies mid-load leaves the
   marker, and the next restore refuses the target unless told to replace it. No superuser
   rights are needed: everything here is allowed to the owner of the tables.
5. Given an `actor`, append one audit event (action `update`, resource_type
   `database_restore`) to the target after the load committed: the load replaced the target's
   audit trail with the backup's, so the event must come after it (shared.backup.export_audit).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg2 import sql

from shared.audit import AuditActor
from shared.backup import export_audit, schema
from shared.backup.blobio import READ_BYTES, HashingReader
from shared.backup.data_tables import SCHEMA, TableInfo, discover_tables, is_data_table
from shared.backup.manifest import Manifest, ManifestError, TableEntry
from shared.backup.sessions import connect, parallel_connections, share_work
from shared.backup.verify import VerifyReport, verify_chain
from shared.observability import get_logger

log = get_logger("backup.restore")

Progress = Callable[..., None]
#: maintenance_work_mem of the restoring transaction (index and key rebuilds).
RESTORE_MAINTENANCE_WORK_MEM = "512MB"
AfterFullLoad = Callable[[Any, list[TableInfo], Manifest], None]


class RestoreError(RuntimeError):
    """The restore could not be done; nothing was committed to the target."""


class TargetNotEmptyError(RestoreError):
    """The target holds data (or another schema) and `replace` was not given."""


class BackupIntegrityError(RestoreError):
    """A blob does not match its manifest; the target was not touched."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        lines = "; ".join(check.describe() for check in report.failures[:5])
        more = len(report.failures) - 5
        super().__init__(
            f"{len(report.failures)} blob(s) do not match the manifest: {lines}"
            + (f" (and {more} more)" if more > 0 else "")
        )


@dataclass(frozen=True)
class TableResult:
    name: str
    expected_rows: int
    restored_rows: int

    @property
    def ok(self) -> bool:
        return self.expected_rows == self.restored_rows


@dataclass
class RestoreReport:
    chain: list[str]
    revision: str | None
    snapshot_at: Any
    tables: list[TableResult] = field(default_factory=list)
    verified_bytes: int = 0
    verify_s: float = 0.0
    load_s: float = 0.0
    total_s: float = 0.0

    @property
    def rows(self) -> int:
        return sum(table.restored_rows for table in self.tables)


def _no_progress(_event: str, **_fields: Any) -> None:
    return None


def restore_chain(
    container: Any,
    chain: list[Manifest],
    target_url: str,
    *,
    replace: bool = False,
    progress: Progress | None = None,
    spool_dir: Path | None = None,
    after_full_load: AfterFullLoad | None = None,
    actor: AuditActor | None = None,
) -> RestoreReport:
    """Restore `chain` (full backup first) into the database at `target_url`.

    With `actor`, the restore is audited in the target (who restored what, from which backups);
    `manage.py restore` gives one. The drill gives none: it audits in the live database.
    """
    progress = progress or _no_progress
    started = time.perf_counter()
    _check_chain(chain)
    revision = chain[-1].alembic_revision
    if revision is None or not schema.known_revision(revision):
        raise RestoreError(
            f"the backup's schema revision {revision!r} is unknown to this code; restore with a "
            "release that has that migration"
        )
    state = _inspect_target(target_url, revision)
    if state and not replace:
        raise TargetNotEmptyError(f"the target is not empty ({state}); pass replace to overwrite")
    report = RestoreReport(
        chain=[m.backup_id for m in chain], revision=revision, snapshot_at=chain[-1].snapshot_at
    )
    with tempfile.TemporaryDirectory(prefix="neulbom-restore-", dir=spool_dir) as spool:
        progress("verify_started", blobs=sum(len(m.blobs) for m in chain))
        verified = verify_chain(container, chain, spool_dir=Path(spool), progress=progress)
        report.verify_s = round(time.perf_counter() - started, 3)
        report.verified_bytes = verified.bytes
        if not verified.ok:
            log.error("restore_refused_integrity", failures=len(verified.failures))
            raise BackupIntegrityError(verified)
        progress("verify_done", bytes=verified.bytes, seconds=report.verify_s)
        if state:
            _reset_schema(target_url)
            progress("target_cleared", reason=state)
        schema.upgrade(target_url, revision)
        progress("schema_ready", revision=revision)
        load_started = time.perf_counter()
        report.tables = _load(target_url, chain, verified.spooled, progress, after_full_load)
        report.load_s = round(time.perf_counter() - load_started, 3)
    report.total_s = round(time.perf_counter() - started, 3)
    if actor is not None:
        export_audit.record_restore(
            target_url,
            actor,
            chain=report.chain,
            tables={table.name: table.restored_rows for table in report.tables},
            revision=revision,
            snapshot_at=report.snapshot_at,
            replaced=bool(state),
        )
    log.info(
        "restore_succeeded",
        chain=report.chain,
        rows=report.rows,
        verify_s=report.verify_s,
        load_s=report.load_s,
        total_s=report.total_s,
    )
    return report


def _check_chain(chain: list[Manifest]) -> None:
    unchecked = [m.backup_id for m in chain if m.provenance == "unverified"]
    if unchecked:  # read through shared.backup.stored_backups, which checks signatures
        raise ManifestError(
            f"manifests not read through the signature check: {', '.join(unchecked)}"
        )
    if not chain or chain[0].kind != "full":
        raise ManifestError("a restore starts from a full backup")
    for previous, current in itertools.pairwise(chain):
        if current.kind != "incremental" or current.previous_backup_id != previous.backup_id:
            raise ManifestError(f"{current.backup_id} does not follow {previous.backup_id}")
        if current.alembic_revision != chain[0].alembic_revision:
            raise ManifestError(f"{current.backup_id} has another schema revision")


def _inspect_target(url: str, revision: str) -> str | None:
    """None when the target can take the restore as it is, else why it cannot."""
    conn = connect(url, autocommit=True, application_name="neulbomcare-restore")
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
                """,
                (SCHEMA,),
            )
            tables = [row[0] for row in cur.fetchall()]
            if not tables:
                return None
            if UNFINISHED_MARKER in tables:
                return "an earlier restore into it did not finish"
            current = None
            if "alembic_version" in tables:
                cur.execute("SELECT version_num FROM alembic_version")
                row = cur.fetchone()
                current = row[0] if row else None
            for table in tables:
                if table == "alembic_version" or not is_data_table(table):
                    continue
                cur.execute(
                    sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
                        sql.Identifier(SCHEMA, table)
                    )
                )
                if _first(cur):
                    return f"table {table} has rows"
            if current != revision:
                return f"its schema is at revision {current}, the backup's is {revision}"
            return None
    finally:
        conn.close()


def _reset_schema(url: str) -> None:
    conn = connect(url, autocommit=True, application_name="neulbomcare-restore")
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP SCHEMA {0} CASCADE; CREATE SCHEMA {0}").format(sql.Identifier(SCHEMA))
            )
    finally:
        conn.close()


#: A table the load creates in the target first and drops in its last transaction: while it
#: exists the target holds an unfinished restore (shared.backup.restore._inspect_target).
UNFINISHED_MARKER = "ops_restore_unfinished"


def _load(
    url: str,
    chain: list[Manifest],
    spooled: dict[str, Path],
    progress: Progress,
    after_full_load: AfterFullLoad | None,
) -> list[TableResult]:
    """Load the chain on `BACKUP_PARALLEL_CONNECTIONS` connections; all or nothing.

    The target is a database this restore just migrated (empty, or cleared with `replace`), so
    nothing of value is lost by loading it in several transactions: a failure (or a row count
    that differs) empties its `public` schema (`_discard_load`), and a process that dies
    mid-load leaves the marker table, which makes the next restore refuse the target unless it
    replaces it.
    """
    connections = [connect(url, application_name="neulbomcare-restore")]
    try:
        for _ in range(1, parallel_connections()):
            connections.append(connect(url, application_name="neulbomcare-restore"))
        for conn in connections:
            with conn.cursor() as cur:
                # Keys and indexes are rebuilt after the load: sorts that fit in memory (the
                # default 64 MB spills a ten-million-row index to disk several times).
                cur.execute(f"SET maintenance_work_mem = '{RESTORE_MAINTENANCE_WORK_MEM}'")
            conn.commit()
        return _load_on(connections, chain, spooled, progress, after_full_load)
    except BaseException:
        for conn in connections:
            if not conn.closed:
                with contextlib.suppress(Exception):
                    conn.rollback()
        _discard_load(url)
        raise
    finally:
        for conn in connections:
            conn.close()


def _load_on(
    connections: list[Any],
    chain: list[Manifest],
    spooled: dict[str, Path],
    progress: Progress,
    after_full_load: AfterFullLoad | None,
) -> list[TableResult]:
    leader = connections[0]
    full = chain[0]
    tables, foreign_keys, keys, indexes = _prepare_target(leader, full)
    by_name = {table.name: table for table in tables}
    # 2. The full backup's tables, largest first, each COPY committed on its connection.
    guard = threading.Lock()

    def load(conn: Any, entry: TableEntry) -> None:
        with conn.cursor() as cur:
            _copy_in(conn, cur, by_name[entry.name], entry, spooled)
        conn.commit()
        with guard:
            progress("table_loaded", backup_id=full.backup_id, table=entry.name, rows=entry.rows)

    share_work(connections, _largest_first(full.tables), load)
    # 3. Keys and indexes, biggest tables first, each statement its own transaction.
    rows = {entry.name: entry.rows for entry in full.tables}
    builds = sorted([*keys, *indexes], key=lambda d: rows.get(d.table, 0), reverse=True)
    _autocommit(connections, True)
    share_work(connections, builds, _run_ddl)
    _autocommit(connections, False)
    progress("indexes_rebuilt", count=len(builds))
    with leader.cursor() as cur:
        for key in keys:
            if key.index_first:
                cur.execute(key.attach())
        if after_full_load is not None:
            after_full_load(cur, tables, full)
        for manifest in chain[1:]:
            _apply_incremental(leader, cur, manifest, by_name, spooled)
            progress("incremental_applied", backup_id=manifest.backup_id)
        # 4. Foreign keys: added unchecked at once, then validated in parallel.
        for key in foreign_keys:
            cur.execute(key.statement(not_valid=True))
    leader.commit()
    checks = [key for key in foreign_keys if key.validates]
    checks.sort(key=lambda d: rows.get(d.table, 0), reverse=True)
    _autocommit(connections, True)
    share_work(connections, checks, lambda conn, key: _run_sql(conn, key.validate()))
    _autocommit(connections, False)
    # 5. The last transaction: triggers on, sequences, counts, the marker gone.
    with leader.cursor() as cur:
        for table in tables:
            cur.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(table.ident))
        reset_sequences(cur, tables)
        results = _count(cur, chain[-1], tables)
        bad = [r for r in results if not r.ok]
        if bad:
            detail = ", ".join(f"{r.name} {r.restored_rows}/{r.expected_rows}" for r in bad)
            raise RestoreError(f"row counts differ from the manifest: {detail}")
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(SCHEMA, UNFINISHED_MARKER)))
    leader.commit()
    return results


def _prepare_target(
    leader: Any, full: Manifest
) -> tuple[list[TableInfo], list[Definition], list[Definition], list[Definition]]:
    """One transaction: the marker, triggers off, keys and indexes out, tables emptied; the
    tables, and the foreign keys, keys and indexes to put back."""
    with leader.cursor() as cur:
        tables = discover_tables(cur)
        _check_columns(full, {table.name: table for table in tables})
        cur.execute(sql.SQL("CREATE TABLE {} ()").format(sql.Identifier(SCHEMA, UNFINISHED_MARKER)))
        for table in tables:
            cur.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(table.ident))
        foreign_keys = _drop_constraints(cur, tables, "f")
        keys = _drop_constraints(cur, tables, "pu")
        indexes = _drop_secondary_indexes(cur, tables)
        if tables:
            cur.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(t.ident for t in tables)))
    leader.commit()
    return tables, foreign_keys, keys, indexes


def _largest_first(entries: tuple[TableEntry, ...]) -> list[TableEntry]:
    return sorted(entries, key=lambda e: e.data.bytes if e.data else 0, reverse=True)


def _autocommit(connections: list[Any], on: bool) -> None:
    for conn in connections:
        conn.autocommit = on


def _run_ddl(conn: Any, definition: Definition) -> None:
    _run_sql(conn, definition.statement())


def _run_sql(conn: Any, statement: sql.Composable) -> None:
    with conn.cursor() as cur:
        cur.execute(statement)


def _discard_load(url: str) -> None:
    """After a failed load: the target's `public` schema emptied, as a target a restore takes
    without `replace` (best effort; if even that fails, the marker table keeps the target
    refused without `replace`)."""
    try:
        _reset_schema(url)
        log.warning("restore_load_discarded")
    except Exception as exc:
        log.error("restore_discard_failed", error=type(exc).__name__)


def _check_columns(manifest: Manifest, by_name: dict[str, TableInfo]) -> None:
    for entry in manifest.tables:
        table = by_name.get(entry.name)
        if table is None:
            raise RestoreError(f"the target has no table {entry.name}")
        missing = set(entry.columns) - set(table.columns)
        if missing:
            raise RestoreError(f"table {entry.name} lacks columns {sorted(missing)}")


def _in_order(manifest: Manifest, tables: list[TableInfo]) -> list[TableEntry]:
    """The manifest's entries in the target's dependency order."""
    position = {table.name: index for index, table in enumerate(tables)}
    return sorted(manifest.tables, key=lambda entry: position[entry.name])


_PLAIN_KEY = re.compile(r"(PRIMARY KEY|UNIQUE) (\([^()]*\))")


@dataclass(frozen=True)
class Definition:
    """A constraint or index dropped before the load, and how to put it back."""

    table: str
    name: str
    definition: str
    constraint: bool

    def statement(self, *, not_valid: bool = False) -> sql.Composable:
        if not self.constraint:
            return sql.SQL(self.definition)
        if self.index_first:  # its index, built like any other (keys are attached after)
            return sql.SQL("CREATE UNIQUE INDEX {} ON {} {}").format(
                sql.Identifier(self.name),
                sql.Identifier(SCHEMA, self.table),
                sql.SQL(self.index_first.group(2)),
            )
        suffix = " NOT VALID" if not_valid and self.validates else ""
        return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.Identifier(SCHEMA, self.table),
            sql.Identifier(self.name),
            sql.SQL(self.definition + suffix),
        )

    @property
    def index_first(self) -> re.Match[str] | None:
        """A plain primary or unique key: its index is built with CREATE UNIQUE INDEX, which
        (unlike ADD CONSTRAINT's exclusive lock) lets the table's other indexes build on the
        other connections meanwhile, then attached with `attach()`."""
        if not self.constraint:
            return None
        return _PLAIN_KEY.fullmatch(self.definition)

    def attach(self) -> sql.Composable:
        assert self.index_first is not None
        return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}").format(
            sql.Identifier(SCHEMA, self.table),
            sql.Identifier(self.name),
            sql.SQL(self.index_first.group(1)),
            sql.Identifier(self.name),
        )

    @property
    def validates(self) -> bool:
        """A foreign key that was valid, so is added NOT VALID and validated afterwards."""
        return self.constraint and not self.definition.endswith("NOT VALID")

    def validate(self) -> sql.Composable:
        return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
            sql.Identifier(SCHEMA, self.table), sql.Identifier(self.name)
        )


def _drop_constraints(cur: Any, tables: list[TableInfo], kinds: str) -> list[Definition]:
    """Drop the constraints of `kinds` ("f" foreign keys; "pu" primary keys and unique ones)
    on the data tables; return what adds them back.

    Loading into tables without them and adding them afterwards builds each index in one sort
    and checks each reference once, as pg_restore does; adding them back re-validates all.
    """
    cur.execute(
        """
        SELECT cl.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class cl ON cl.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = cl.relnamespace
        WHERE con.contype = ANY(%s) AND n.nspname = %s AND cl.relname = ANY(%s)
        ORDER BY cl.relname, con.contype, con.conname
        """,
        (list(kinds), SCHEMA, [t.name for t in tables]),
    )
    restore: list[Definition] = []
    for table, name, definition in cur.fetchall():
        ident = sql.Identifier(SCHEMA, table)
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(ident, sql.Identifier(name))
        )
        restore.append(Definition(table, name, definition, constraint=True))
    return restore


def _drop_secondary_indexes(cur: Any, tables: list[TableInfo]) -> list[Definition]:
    """Drop indexes no constraint owns; return what recreates them."""
    cur.execute(
        """
        SELECT tc.relname, ic.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class tc ON tc.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = tc.relnamespace
        WHERE n.nspname = %s AND tc.relname = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY ic.relname
        """,
        (SCHEMA, [t.name for t in tables]),
    )
    recreate: list[Definition] = []
    for table, name, definition in cur.fetchall():
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(SCHEMA, name)))
        recreate.append(Definition(table, name, definition, constraint=False))
    return recreate


def _copy_in(
    conn: Any,
    cur: Any,
    table: TableInfo,
    entry: TableEntry,
    spooled: dict[str, Path],
    *,
    blob: str = "data",
) -> int:
    stored = entry.data if blob == "data" else entry.keys
    if stored is None:
        return 0
    columns = entry.columns if blob == "data" else entry.key_columns
    target: sql.Composable = table.ident if blob == "data" else sql.Identifier("ops_restore_keys")
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        target, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    reader = HashingReader(spooled[stored.name])
    try:
        cur.copy_expert(statement.as_string(conn), reader, size=READ_BYTES)
    finally:
        reader.close()
    if reader.rows != stored.rows or reader.content_sha256.hexdigest() != stored.content_sha256:
        raise RestoreError(f"{stored.name}: content does not match the manifest")
    return reader.rows


def _apply_incremental(
    conn: Any,
    cur: Any,
    manifest: Manifest,
    by_name: dict[str, TableInfo],
    spooled: dict[str, Path],
) -> None:
    _check_columns(manifest, by_name)
    for entry in manifest.tables:
        table = by_name[entry.name]
        if entry.mode == "unchanged":
            continue
        if entry.mode == "replace":
            cur.execute(sql.SQL("DELETE FROM {}").format(table.ident))
        elif entry.mode == "upsert":
            keys = sql.SQL(", ").join(sql.Identifier(c) for c in entry.key_columns)
            cur.execute(
                sql.SQL(
                    "CREATE TEMP TABLE ops_restore_keys ON COMMIT DROP AS "
                    "SELECT {} FROM {} WITH NO DATA"
                ).format(keys, table.ident)
            )
            _copy_in(conn, cur, table, entry, spooled, blob="keys")
            match = sql.SQL(" AND ").join(
                sql.SQL("t.{0} = k.{0}").format(sql.Identifier(c)) for c in entry.key_columns
            )
            cur.execute(
                sql.SQL("DELETE FROM {} t USING ops_restore_keys k WHERE {}").format(
                    table.ident, match
                )
            )
            cur.execute("DROP TABLE ops_restore_keys")
        else:
            raise ManifestError(f"{manifest.backup_id}: mode {entry.mode} in an incremental")
        _copy_in(conn, cur, table, entry, spooled)


def reset_sequences(cur: Any, tables: list[TableInfo]) -> None:
    """Make each identity/serial sequence continue after the highest restored value."""
    for table in tables:
        for column in table.sequence_columns:
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({qualified}, {column}), "
                    "coalesce(max({col}), 0) + 1, false) FROM {table}"
                ).format(
                    qualified=sql.Literal(f"{SCHEMA}.{table.name}"),
                    column=sql.Literal(column),
                    col=sql.Identifier(column),
                    table=table.ident,
                )
            )


def _count(cur: Any, last: Manifest, tables: list[TableInfo]) -> list[TableResult]:
    expected = {entry.name: entry.table_rows for entry in last.tables}
    results = []
    for table in tables:
        if table.name not in expected:
            continue
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table.ident))
        results.append(TableResult(table.name, expected[table.name], cur.fetchone()[0]))
    return results


def _first(cur: Any) -> Any:
    """The first column of the one row a statement returned."""
    row = cur.fetchone()
    assert row is not None
    return row[0]
