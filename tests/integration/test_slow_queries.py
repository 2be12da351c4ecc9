"""Slow queries can be found (issue 15 item 3): migration 0008 and the runbook's query.

Migration 0008 creates pg_stat_statements in the schema `monitoring` where the role may, and
never fails a migration where it may not. The runbook's top-statements query (docs/operations.md,
"Slow queries") is read from the runbook itself and run here: planned with EXPLAIN (which checks
every column name against this server's pg_stat_statements), then executed. A server that does
not preload the library (the local one, by default) answers the error the runbook explains.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from devtools.database import REPO_ROOT, create_database, current_revision, drop_database, migrate
from devtools.database import with_database as database_in
from tests.integration.test_app_role import _drop_role, as_role
from tests.integration.test_migrations import HEAD

pytestmark = pytest.mark.integration

RUNBOOK = REPO_ROOT / "docs" / "operations.md"
NOT_PRELOADED = "pg_stat_statements must be loaded via shared_preload_libraries"
COLUMNS = ["total_ms", "calls", "mean_ms", "rows", "statement"]


def runbook_query() -> str:
    section = RUNBOOK.read_text(encoding="utf-8").split("### Slow queries", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the runbook's Slow queries section has no SQL block"
    return block.group(1).strip().rstrip(";")


def one_value(url: str, query: str) -> object:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query)
        row = cur.fetchone()
    conn.close()
    return row[0] if row else None


def available_on_server(url: str) -> bool:
    return bool(
        one_value(
            url, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'"
        )
    )


def extension_schema(url: str) -> object:
    return one_value(
        url,
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_stat_statements'",
    )


def test_the_migration_creates_the_extension_in_its_own_schema_where_allowed(
    database_url: str,
) -> None:
    # The tests migrate as the server's superuser: allowed wherever the contrib package is.
    if available_on_server(database_url):
        assert extension_schema(database_url) == "monitoring"
    else:
        assert extension_schema(database_url) is None
    assert current_revision(database_url) == HEAD


def test_a_role_that_may_not_create_it_still_migrates(pg_server_url: str) -> None:
    """As the restore drill migrates its scratch database: the app's login, owner of the database,
    no superuser. pg_stat_statements is not a trusted extension, so it is skipped with a notice."""
    role = f"neulbom_test_owner_{secrets.token_hex(4)}"
    name = f"neulbom_test_{secrets.token_hex(6)}"
    conn = psycopg2.connect(pg_server_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER')
    conn.close()
    try:
        create_database(pg_server_url, name)
        conn = psycopg2.connect(pg_server_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
        conn.close()
        url = as_role(database_in(pg_server_url, name), role)

        migrate(url)

        assert current_revision(url) == HEAD
        assert extension_schema(url) is None
    finally:
        drop_database(pg_server_url, name)
        _drop_role(pg_server_url, role)


@pytest.fixture
def statements_url(database_url: str) -> str:
    assert extension_schema(database_url) == "monitoring", (
        "pg_stat_statements is missing: install the server's contrib package (Debian: "
        "postgresql-contrib) to test the runbook's query"
    )
    return database_url


def test_the_runbooks_top_statements_query_names_real_columns(statements_url: str) -> None:
    with psycopg2.connect(statements_url) as conn, conn.cursor() as cur:
        cur.execute("EXPLAIN " + runbook_query())
        plan = "\n".join(row[0] for row in cur.fetchall())
    conn.close()

    assert "pg_stat_statements" in plan


def run(url: str, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return [column.name for column in cur.description or ()], cur.fetchall()
    finally:
        conn.close()


def preloaded(url: str) -> bool:
    libraries = str(one_value(url, "SHOW shared_preload_libraries"))
    return "pg_stat_statements" in [name.strip() for name in libraries.split(",")]


def test_the_runbooks_top_statements_query_runs_or_fails_as_the_runbook_says(
    statements_url: str,
) -> None:
    query = runbook_query()
    if not preloaded(statements_url):
        # The local server's default: the runbook names this exact message and what it means.
        with pytest.raises(psycopg2.errors.ObjectNotInPrerequisiteState, match=NOT_PRELOADED):
            run(statements_url, query)
        assert NOT_PRELOADED in RUNBOOK.read_text(encoding="utf-8")
        return

    columns, rows = run(statements_url, query)

    assert columns == COLUMNS
    # This very session's statements are counted, the busiest first.
    assert rows
    totals = [row[0] for row in rows]
    assert totals == sorted(totals, reverse=True)
