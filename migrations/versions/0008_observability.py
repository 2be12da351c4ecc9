"""Slow queries can be found: pg_stat_statements where allowed (issue 15).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

The extension lives in its own schema, `monitoring`, so the app's schema (`public`: what
backups copy, restores replace and the app's role is granted) holds only the app's objects.

Creating it is best effort and never fails a migration:

- Azure Database for PostgreSQL creates it only once the server parameter `azure.extensions`
  lists PG_STAT_STATEMENTS (infra/core/database/postgresql-flexible-server.bicep does), and it
  collects only with `pg_stat_statements` in `shared_preload_libraries` (infra sets that too).
- A role that may not create it (the app's login migrating the restore drill's scratch
  database, a server without the contrib package) gets a NOTICE and carries on.
- Where the extension exists but the library is not preloaded (a local server with default
  settings) the view raises "pg_stat_statements must be loaded via shared_preload_libraries" when
  read; docs/operations.md ("Slow queries") says what that means.

Downgrade drops the schema and with it the extension (statistics are collected per server and
stay until the library is unloaded).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE_SQL = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_stat_statements') THEN
        RETURN;  -- already there, in whatever schema an administrator chose
    END IF;
    IF NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        RAISE NOTICE 'pg_stat_statements is not installed here: no slow-query statistics';
        RETURN;
    END IF;
    BEGIN
        CREATE SCHEMA IF NOT EXISTS monitoring;
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA monitoring;
    EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR invalid_parameter_value
                   OR object_not_in_prerequisite_state OR undefined_file THEN
        -- Not allow-listed (azure.extensions) or not permitted to this role: skip, keep migrating.
        RAISE NOTICE 'pg_stat_statements not created: %', SQLERRM;
    END;
END
$$
"""

DOWNGRADE_SQL = """
DO $$
BEGIN
    IF EXISTS (
        SELECT FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements' AND n.nspname = 'monitoring'
    ) THEN
        DROP EXTENSION pg_stat_statements;
    END IF;
    DROP SCHEMA IF EXISTS monitoring;
END
$$
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
