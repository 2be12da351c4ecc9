"""Change tracking of bulk statements (migration 0010): a statement that touches at least
WHOLE_TABLE_ROWS rows and a quarter of its table is logged as one whole-table change, which the
next incremental copies whole; other statements keep their per-key log."""

from __future__ import annotations

import importlib

import psycopg2
import pytest

pytestmark = pytest.mark.integration

WHOLE_TABLE_ROWS: int = importlib.import_module(
    "migrations.versions.0010_care_data_scale"
).WHOLE_TABLE_ROWS


def _changes(cur: psycopg2.extensions.cursor) -> list[tuple[str, int, int]]:
    """(op, rows, rows with a key) of the users table's log entries, by op."""
    cur.execute(
        "SELECT op::text, count(*), count(row_key) FROM ops_row_changes"
        " WHERE table_name = 'users' GROUP BY op ORDER BY op"
    )
    return [(row[0], row[1], row[2]) for row in cur.fetchall()]


def _insert_users(cur: psycopg2.extensions.cursor, prefix: str, count: int) -> None:
    cur.execute(
        "INSERT INTO users (email, name, role) SELECT %s || i || '@bulk.invalid', 'n', 'guardian'"
        " FROM generate_series(1, %s) AS i",
        (prefix, count),
    )


def test_a_bulk_statement_is_one_whole_table_change_and_small_ones_keep_their_keys(
    migrated_database_url: str,
) -> None:
    conn = psycopg2.connect(migrated_database_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("TRUNCATE ops_row_changes")
            _insert_users(cur, "small", 10)
            assert _changes(cur) == [("I", 10, 10)]

            cur.execute("TRUNCATE ops_row_changes")
            _insert_users(cur, "bulk", 4 * WHOLE_TABLE_ROWS)  # into a table of 10 rows
            assert _changes(cur) == [("T", 1, 0)]

            # A large statement on a larger table (under a quarter of it) keeps its keys: the
            # 1 % of ten million care logs an incremental must not copy whole.
            cur.execute("ANALYZE users")
            cur.execute("TRUNCATE ops_row_changes")
            cur.execute(
                "UPDATE users SET name = 'm' WHERE user_id IN"
                " (SELECT user_id FROM users ORDER BY user_id LIMIT %s)",
                (WHOLE_TABLE_ROWS,),
            )
            assert _changes(cur) == [("U", WHOLE_TABLE_ROWS, WHOLE_TABLE_ROWS)]
    finally:
        conn.close()
