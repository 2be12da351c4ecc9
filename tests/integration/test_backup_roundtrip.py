"""Full backup, changes, incremental, restore: the restored database equals the source, row for
row, against real PostgreSQL and Azurite."""

from __future__ import annotations

import time

import psycopg2
import pytest

from shared.backup import layout
from shared.backup.restore import TargetNotEmptyError, restore_chain
from shared.backup.stored_backups import list_backups, resolve_chain
from shared.backup.writer import run_backup
from tests.fixtures.backup import (
    backup_id_of,
    fetch_value,
    make_changes,
    manifest_of,
    sequence_positions,
    table_checksums,
)

pytestmark = pytest.mark.integration


def _execute(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_full_plus_incremental_restores_every_table_row_for_row(
    populated_database_url: str, empty_database_url: str, backup_container
) -> None:
    full = run_backup(populated_database_url, backup_container, kind="full")
    assert full.status == "succeeded", full.error
    make_changes(psycopg2.connect(populated_database_url))
    incremental = run_backup(populated_database_url, backup_container, kind="incremental")
    assert incremental.status == "succeeded", incremental.error
    assert incremental.kind == "incremental"
    modes = {t.name: t.mode for t in manifest_of(incremental).tables}
    assert modes["care_logs"] == "upsert"
    assert modes["login_attempts"] == "replace"  # it was truncated
    assert modes["caregiver_availability"] == "unchanged"
    assert manifest_of(incremental).base_backup_id == full.backup_id

    chain = resolve_chain(backup_container)
    assert [m.backup_id for m in chain] == [full.backup_id, incremental.backup_id]
    report = restore_chain(backup_container, chain, empty_database_url)

    source = table_checksums(populated_database_url)
    restored = table_checksums(empty_database_url)
    assert set(source) == set(restored)
    assert {t: restored[t] for t in source if restored[t] != source[t]} == {}
    assert source["care_logs"][0] > 1000
    assert all(t.ok for t in report.tables)
    assert sequence_positions(empty_database_url) == sequence_positions(populated_database_url)
    # The restored database is usable: the next id does not collide.
    _execute(
        empty_database_url,
        "INSERT INTO care_logs (schedule_id, patient_id, category, task_name) "
        "SELECT schedule_id, patient_id, 'other', 'after restore' FROM schedules LIMIT 1",
    )


def test_until_stops_before_a_later_incremental_and_a_full_alone_restores(
    populated_database_url: str, empty_database_url: str, backup_container
) -> None:
    full = run_backup(populated_database_url, backup_container, kind="full")
    at_full = table_checksums(populated_database_url)
    make_changes(psycopg2.connect(populated_database_url))
    later = run_backup(populated_database_url, backup_container, kind="incremental")
    assert later.status == "succeeded"

    chain = resolve_chain(backup_container, "latest", until=manifest_of(full).snapshot_at)
    assert [m.backup_id for m in chain] == [full.backup_id]
    restore_chain(backup_container, chain, empty_database_url)

    assert table_checksums(empty_database_url) == at_full
    assert [b.backup_id for b in list_backups(backup_container)] == [
        full.backup_id,
        later.backup_id,
    ]
    assert resolve_chain(backup_container, backup_id_of(later))[0].backup_id == full.backup_id


def test_restore_refuses_a_non_empty_target_unless_replacing(
    populated_database_url: str, empty_database_url: str, backup_container
) -> None:
    result = run_backup(populated_database_url, backup_container, kind="full")
    chain = resolve_chain(backup_container, backup_id_of(result))
    restore_chain(backup_container, chain, empty_database_url)
    _execute(empty_database_url, "DELETE FROM reviews WHERE review_id = 1")

    with pytest.raises(TargetNotEmptyError, match="has rows"):
        restore_chain(backup_container, chain, empty_database_url)

    restore_chain(backup_container, chain, empty_database_url, replace=True)
    assert table_checksums(empty_database_url) == table_checksums(populated_database_url)


def test_incremental_without_a_full_backup_makes_a_full_one(
    populated_database_url: str, backup_container
) -> None:
    result = run_backup(populated_database_url, backup_container, kind="incremental")

    assert result.status == "succeeded"
    assert result.kind == "full"
    assert backup_id_of(result).startswith("full-")
    names = [b.name for b in backup_container.list_blobs(name_starts_with="manifests/")]
    assert names == [layout.manifest_blob(backup_id_of(result))]
    # Every data table is in the manifest, discovered from the catalog.
    tables = {t.name for t in manifest_of(result).tables}
    assert {"care_logs", "audit_events", "users", "reviews"} <= tables
    assert not any(t.startswith("ops_") or t == "alembic_version" for t in tables)


def test_change_log_is_pruned_after_a_backup(populated_database_url: str, backup_container) -> None:
    conn = psycopg2.connect(populated_database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM ops_row_changes")
            before = fetch_value(cur)
        conn.rollback()
        assert before > 1000  # populate's inserts were logged
        # A backup prunes what its snapshot covers: changes older than every transaction still
        # open on the server. Other sessions (other test workers) may hold that horizon back
        # for a moment, so a later backup must finish the pruning.
        for _ in range(10):
            assert run_backup(populated_database_url, backup_container).status == "succeeded"
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM ops_row_changes")
                after = fetch_value(cur)
            conn.rollback()
            if after == 0:
                break
            time.sleep(1)
        assert after == 0
    finally:
        conn.close()
