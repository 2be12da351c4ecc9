"""Backups and restores on several connections (BACKUP_PARALLEL_CONNECTIONS): one snapshot
shared by the backup's connections, and a failure on any connection leaving nothing that looks
complete (no manifest; a restore target back as the migration left it, or refused)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import psycopg2
import pytest

from shared.backup import layout
from shared.backup import restore as restore_module
from shared.backup import writer as writer_module
from shared.backup.data_tables import is_data_table
from shared.backup.restore import UNFINISHED_MARKER, TargetNotEmptyError, restore_chain
from shared.backup.stored_backups import resolve_chain
from shared.backup.writer import run_backup
from tests.fixtures.backup import fetch_value, public_tables, table_checksums

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _two_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "parallel_connections", lambda: 2)
    monkeypatch.setattr(restore_module, "parallel_connections", lambda: 2)


def _query(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def _schema_objects(url: str) -> list[tuple[str, str]]:
    """Every index and constraint of the public schema, as definitions (names included)."""
    return _query(
        url,
        """
        SELECT 'index', pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
        UNION ALL
        SELECT con.conname, c.relname || ' ' || pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
        ORDER BY 1, 2
        """,
    )


def _disabled_triggers(url: str) -> list[tuple[str]]:
    return _query(
        url,
        "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND NOT t.tgisinternal AND t.tgenabled = 'D'",
    )


def _data_rows(url: str) -> dict[str, int]:
    counts = {}
    for table in public_tables(url):
        if is_data_table(table):
            [(count,)] = _query(url, f'SELECT count(*) FROM public."{table}"')
            counts[table] = count
    return counts


def _backup_sessions(url: str) -> int:
    """The backup's sessions still open (a closed one may take a moment to leave the view)."""
    for _ in range(50):
        [(count,)] = _query(
            url,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'neulbomcare-backup'",
        )
        if count == 0:
            break
        time.sleep(0.1)
    return count


def test_a_change_committed_during_the_backup_is_wholly_out_of_every_table(
    populated_database_url: str, empty_database_url: str, backup_container
) -> None:
    """Patient 5 and its care logs (a foreign key) are deleted after the first table is copied:
    tables copied later, on either connection, still see them, as one snapshot."""
    url = populated_database_url
    [(logs_of_5,)] = _query(url, "SELECT count(*) FROM care_logs WHERE patient_id = 5")
    assert logs_of_5 > 0
    done_after_change: list[str] = []

    def delete_patient_after_first_table(event: str, **fields: Any) -> None:
        if event != "table_done":
            return
        if fields["index"] == 1:
            _query(url, "DELETE FROM patients WHERE patient_id = 5")  # cascades to its logs
        else:
            done_after_change.append(fields["table"])

    result = run_backup(url, backup_container, progress=delete_patient_after_first_table)

    assert result.status == "succeeded", result.error
    assert {"patients", "care_logs"} & set(done_after_change)  # read after the delete
    assert _query(url, "SELECT count(*) FROM patients WHERE patient_id = 5") == [(0,)]
    restore_chain(backup_container, resolve_chain(backup_container), empty_database_url)
    restored = empty_database_url
    assert _query(restored, "SELECT count(*) FROM patients WHERE patient_id = 5") == [(1,)]
    assert _query(restored, "SELECT count(*) FROM care_logs WHERE patient_id = 5") == [(logs_of_5,)]
    assert _backup_sessions(url) == 0


def test_a_connection_failing_mid_backup_fails_the_run_and_leaves_no_backup(
    populated_database_url: str, backup_container, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = writer_module._backup_table
    started: list[str] = []

    def fail_on_patients(conn: Any, cur: Any, container: Any, backup_id: str, table: Any, *a):
        started.append(table.name)
        if table.name == "patients":
            raise RuntimeError("connection lost while copying patients")
        return original(conn, cur, container, backup_id, table, *a)

    monkeypatch.setattr(writer_module, "_backup_table", fail_on_patients)

    result = run_backup(populated_database_url, backup_container)

    assert result.status == "failed"
    assert "connection lost while copying patients" in (result.error or "")
    assert result.manifest is None
    assert len(started) > 1  # the other connection was working too
    assert list(backup_container.list_blobs()) == []  # no manifest, no table blobs left
    assert list(backup_container.list_blobs(name_starts_with=layout.MANIFEST_PREFIX)) == []
    with pytest.raises(LookupError):
        resolve_chain(backup_container)
    assert _query(populated_database_url, "SELECT status FROM ops_backup_runs") == [("failed",)]
    assert _backup_sessions(populated_database_url) == 0
    monkeypatch.setattr(writer_module, "_backup_table", original)
    assert run_backup(populated_database_url, backup_container).status == "succeeded"


def _fail_loading_the_fourth_table(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    original = restore_module._copy_in
    loaded: list[str] = []
    calls = itertools.count(1)

    def copy_in(conn: Any, cur: Any, table: Any, entry: Any, spooled: Any, **kw: Any) -> int:
        if next(calls) == 4:
            raise RuntimeError(f"connection lost while loading {table.name}")
        rows = original(conn, cur, table, entry, spooled, **kw)
        loaded.append(table.name)
        return rows

    monkeypatch.setattr(restore_module, "_copy_in", copy_in)
    return loaded


def test_a_connection_failing_mid_restore_leaves_the_target_as_migrated_and_empty(
    populated_database_url: str,
    empty_database_url: str,
    backup_container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_backup(populated_database_url, backup_container).status == "succeeded"
    chain = resolve_chain(backup_container)
    loaded = _fail_loading_the_fourth_table(monkeypatch)

    with pytest.raises(RuntimeError, match="connection lost while loading"):
        restore_chain(backup_container, chain, empty_database_url)

    assert loaded  # other tables had been loaded and committed before the failure
    assert public_tables(empty_database_url) == []  # nothing left that looks restored
    # Empty: the next restore takes it without `replace`.
    monkeypatch.undo()
    restore_chain(backup_container, chain, empty_database_url)
    assert table_checksums(empty_database_url) == table_checksums(populated_database_url)
    assert _schema_objects(empty_database_url) == _schema_objects(populated_database_url)
    assert _disabled_triggers(empty_database_url) == []


def test_a_restore_that_died_mid_load_is_refused_until_replaced(
    populated_database_url: str,
    empty_database_url: str,
    backup_container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_backup(populated_database_url, backup_container).status == "succeeded"
    chain = resolve_chain(backup_container)
    _fail_loading_the_fourth_table(monkeypatch)
    # The process dies: nothing cleans up after it.
    monkeypatch.setattr(restore_module, "_discard_load", lambda url: None)
    with pytest.raises(RuntimeError):
        restore_chain(backup_container, chain, empty_database_url)
    assert UNFINISHED_MARKER in public_tables(empty_database_url)
    monkeypatch.undo()

    with pytest.raises(TargetNotEmptyError, match="did not finish"):
        restore_chain(backup_container, chain, empty_database_url)
    restore_chain(backup_container, chain, empty_database_url, replace=True)

    assert UNFINISHED_MARKER not in public_tables(empty_database_url)
    assert table_checksums(empty_database_url) == table_checksums(populated_database_url)
    assert _schema_objects(empty_database_url) == _schema_objects(populated_database_url)
    conn = psycopg2.connect(empty_database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM care_logs")
            assert fetch_value(cur) > 1000
    finally:
        conn.close()
