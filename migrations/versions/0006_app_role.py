"""The app's database role: only the privileges it needs; the audit log cannot be erased.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Two roles. Migrations (and restores, an operator command) run as the owner of the schema's
objects: the server admin in Azure. The Function App logs in as a LOGIN role that is a member of
the NOLOGIN group role `neulbomcare_app` created here (`manage.py db-roles --app-login NAME`
creates or updates that login, with CREATEDB for the restore drill's scratch database).

- `neulbomcare_app` may USAGE the schema, SELECT/INSERT/UPDATE/DELETE every table, USAGE/SELECT
  every sequence and EXECUTE the functions. It owns nothing, so it can neither TRUNCATE nor ALTER
  a table (`DISABLE TRIGGER`), nor VACUUM one (maintenance then leaves it to autovacuum).
- `audit_events`: SELECT and INSERT only. Retention pruning goes through
  `ops_prune_audit_events(cutoff)`, a SECURITY DEFINER function owned by the owner that refuses
  a cutoff younger than two years (the row trigger refuses younger rows too).
- `audit_events_no_truncate`: a BEFORE TRUNCATE statement trigger that refuses even the owner and
  superusers. Whoever must empty the table on purpose (a test fixture) disables it explicitly in
  the same transaction; restores disable every user trigger while they load.
- Default privileges: tables, sequences and functions the owner creates later are granted to
  `neulbomcare_app` like the ones above. A migration adding a table the app must not change
  freely REVOKEs what it must not have (as done here for `audit_events`).

Roles are cluster-wide: several databases on one server (tests, restore drills) share
`neulbomcare_app`, so it is created only if missing, and downgrade revokes what it granted in
this database but does not drop the role (drop it by hand when no database uses it:
`DROP ROLE neulbomcare_app` after `DROP OWNED BY neulbomcare_app` in each database).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "neulbomcare_app"
SCHEMA = "public"

UPGRADE_SQL = (
    f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN;
        END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database's migration created it at the same moment
    END;
    $$
    """,
    f"GRANT USAGE ON SCHEMA {SCHEMA} TO {APP_ROLE}",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO {APP_ROLE}",
    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {APP_ROLE}",
    f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {SCHEMA} TO {APP_ROLE}",
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA}"
    f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}",
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT EXECUTE ON FUNCTIONS TO {APP_ROLE}",
    # The audit log: read and append, nothing else.
    f"REVOKE ALL ON audit_events FROM {APP_ROLE}",
    f"GRANT SELECT, INSERT ON audit_events TO {APP_ROLE}",
    # The migrations' own bookkeeping is the owner's.
    f"REVOKE ALL ON alembic_version FROM {APP_ROLE}",
    f"GRANT SELECT ON alembic_version TO {APP_ROLE}",
    """
    CREATE FUNCTION audit_events_no_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: TRUNCATE is not allowed'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Events older than 2 years are pruned by ops_prune_audit_events.';
    END;
    $$
    """,
    """
    CREATE TRIGGER audit_events_no_truncate
        BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_no_truncate()
    """,
    # Retention pruning for a role that may not DELETE audit events. SECURITY DEFINER runs as
    # the owner; search_path is pinned so a caller cannot substitute its own objects.
    """
    CREATE FUNCTION ops_prune_audit_events(cutoff timestamptz, batch integer DEFAULT 10000)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
        deleted integer;
    BEGIN
        IF cutoff IS NULL OR cutoff > now() - interval '2 years' THEN
            RAISE EXCEPTION 'audit events are kept for 2 years: cutoff % is too recent', cutoff
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF batch IS NULL OR batch < 1 THEN
            RAISE EXCEPTION 'batch must be positive' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        DELETE FROM audit_events WHERE event_id IN (
            SELECT event_id FROM audit_events WHERE occurred_at < cutoff LIMIT batch);
        GET DIAGNOSTICS deleted = ROW_COUNT;
        RETURN deleted;
    END;
    $$
    """,
    "REVOKE ALL ON FUNCTION ops_prune_audit_events(timestamptz, integer) FROM PUBLIC",
    f"GRANT EXECUTE ON FUNCTION ops_prune_audit_events(timestamptz, integer) TO {APP_ROLE}",
    "REVOKE ALL ON FUNCTION audit_events_no_truncate() FROM PUBLIC",
)


def upgrade() -> None:
    """Create the app's group role, grant it what it needs, guard the audit log."""
    for statement in UPGRADE_SQL:
        op.execute(statement)


def downgrade() -> None:
    """Drop the guard and the pruning function; revoke every grant to the role in this database.

    The role itself stays: it is cluster-wide and other databases may use it.
    """
    op.execute("DROP FUNCTION IF EXISTS ops_prune_audit_events(timestamptz, integer)")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_no_truncate()")
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'neulbomcare_app') THEN
                ALTER DEFAULT PRIVILEGES IN SCHEMA public
                    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM neulbomcare_app;
                ALTER DEFAULT PRIVILEGES IN SCHEMA public
                    REVOKE USAGE, SELECT ON SEQUENCES FROM neulbomcare_app;
                ALTER DEFAULT PRIVILEGES IN SCHEMA public
                    REVOKE EXECUTE ON FUNCTIONS FROM neulbomcare_app;
                REVOKE ALL ON ALL TABLES IN SCHEMA public FROM neulbomcare_app;
                REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM neulbomcare_app;
                REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM neulbomcare_app;
                REVOKE ALL ON SCHEMA public FROM neulbomcare_app;
            END IF;
        END;
        $$
        """
    )
