"""Every data table carries the backup change tracking, so an incremental backup misses no
change: a new table whose migration forgets `ops_attach_change_tracking` fails here."""

from __future__ import annotations

import pytest

from tests.factories import cursor

pytestmark = pytest.mark.integration

#: Tables that are not data: the operations bookkeeping itself and Alembic's revision.
NOT_DATA = {"alembic_version"}


def test_every_data_table_is_tracked_for_incremental_backups(database_url: str) -> None:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT c.relname AS name,"
            " EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            "         WHERE t.tgrelid = c.oid AND p.proname = 'ops_track_changes') AS tracked"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        tables = {row["name"]: row["tracked"] for row in cur.fetchall()}
    data_tables = {t for t in tables if t not in NOT_DATA and not t.startswith("ops_")}
    assert len(data_tables) >= 20, "the schema was not migrated"
    untracked = sorted(t for t in data_tables if not tables[t])
    assert untracked == [], (
        f"tables without backup change tracking: {untracked}; call"
        " ops_attach_change_tracking('<table>') in the migration that creates them"
    )
