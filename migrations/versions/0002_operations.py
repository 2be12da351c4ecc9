"""Operations: backup runs, restore drills, health snapshots and row-change tracking.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Incremental backups need, for every data table, the rows inserted or changed and the keys of the
rows deleted since the previous backup. Timestamps cannot give that: `updated_at` is the writing
transaction's *start* time, several tables have only `created_at` or no timestamp at all, and a
transaction that started before a backup's snapshot but committed after it would be missed by any
"changed since T" query. Sequence values have the same commit-order problem.

So every data table carries four statement-level triggers (INSERT, UPDATE, DELETE, TRUNCATE) that
append the primary keys of the rows a statement touched to one log, `ops_row_changes`, tagged with
the writing transaction's id (`txid_current()`, a 64-bit epoch-extended xid that never wraps).
Statement-level triggers with transition tables cost one INSERT ... SELECT per statement rather
than one trigger call per row. A backup records its snapshot (`txid_current_snapshot()`); the next
incremental, running in its own snapshot, takes exactly the log rows *not visible* in the
previous one: `NOT txid_visible_in_snapshot(txid, previous)`, with `txid >= xmin(previous)` as the
indexable bound. That is exact whatever order transactions commit in, needs no clock, and an
aborted transaction's log rows vanish with it. For each logged key the incremental writes the
row as it is now (an upsert) or, when the row no longer exists, the key as deleted. A TRUNCATE is
logged without a key and makes the next incremental copy the whole table. Log rows visible in a
succeeded backup's snapshot are pruned by the backup job.

Later revisions that add a data table attach the same tracking with one statement:

    op.execute("SELECT ops_attach_change_tracking('new_table')")

and detach it in downgrade() with `SELECT ops_detach_change_tracking('new_table')` (dropping the
table drops its triggers too). The backup code discovers tables from the catalog; a table without
the tracking triggers is still backed up, but copied whole by every incremental (and a warning is
logged), so forgetting the attach call costs time, never data. Tables without a primary key are
logged as a whole-table change for the same reason. `ops_*` tables and `alembic_version` are not
backed up: they describe this server's operations, not the data, and are recreated by Alembic.

The audit log is tracked too (inserts, and the deletes of retention pruning): its inserts must
reach the incrementals, and a restore must not resurrect events pruned past their retention.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The data tables of revision 0001, frozen here as a migration must be.
TRACKED_TABLES = (
    "users",
    "login_attempts",
    "guardians",
    "patients",
    "patient_conditions",
    "patient_medications",
    "patient_diets",
    "patient_personality",
    "caregivers",
    "caregiver_personality",
    "caregiver_certifications",
    "caregiver_specialties",
    "caregiver_availability",
    "matching_requests",
    "matching_results",
    "care_plans",
    "schedules",
    "care_logs",
    "meal_plans",
    "care_reports",
    "reviews",
    "audit_events",
)

BACKUP_KINDS = "('full', 'incremental')"
RUN_STATUSES = "('running', 'succeeded', 'failed')"
HEALTH_STATUSES = "('healthy', 'degraded', 'unhealthy')"

TABLES_SQL = (
    f"""
    CREATE TABLE ops_backup_runs (
        backup_id          text PRIMARY KEY
                           CHECK (backup_id ~ '^(full|incr)-[0-9]{{8}}T[0-9]{{6}}Z-[a-z0-9]+$'),
        kind               text NOT NULL CHECK (kind IN {BACKUP_KINDS}),
        status             text NOT NULL DEFAULT 'running' CHECK (status IN {RUN_STATUSES}),
        started_at         timestamptz NOT NULL DEFAULT now(),
        finished_at        timestamptz,
        -- The full backup an incremental builds on, and the backup whose snapshot it continues.
        base_backup_id     text REFERENCES ops_backup_runs ON DELETE SET NULL,
        previous_backup_id text REFERENCES ops_backup_runs ON DELETE SET NULL,
        -- The watermark: the backup transaction's snapshot, and the time the data is "as of".
        snapshot           txid_snapshot,
        snapshot_at        timestamptz,
        alembic_revision   text,
        blob_prefix        text NOT NULL,
        tables             integer CHECK (tables >= 0),
        rows               bigint CHECK (rows >= 0),
        bytes              bigint CHECK (bytes >= 0),
        requested_by       text NOT NULL DEFAULT 'timer',
        error              text,
        pruned_at          timestamptz,
        CONSTRAINT ops_backup_runs_base_check
            CHECK ((kind = 'full') = (base_backup_id IS NULL)),
        CONSTRAINT ops_backup_runs_finished_check
            CHECK ((status = 'running') = (finished_at IS NULL))
    )
    """,
    "CREATE INDEX ops_backup_runs_started_idx ON ops_backup_runs (started_at DESC)",
    """
    CREATE INDEX ops_backup_runs_chain_idx
        ON ops_backup_runs (kind, status, snapshot_at DESC) WHERE pruned_at IS NULL
    """,
    f"""
    CREATE TABLE ops_restore_drills (
        drill_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        backup_id    text REFERENCES ops_backup_runs ON DELETE SET NULL,
        status       text NOT NULL DEFAULT 'running' CHECK (status IN {RUN_STATUSES}),
        started_at   timestamptz NOT NULL DEFAULT now(),
        finished_at  timestamptz,
        rto_seconds  numeric(12, 3) CHECK (rto_seconds >= 0),
        tables       integer CHECK (tables >= 0),
        rows         bigint CHECK (rows >= 0),
        mismatches   jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(mismatches) = 'array'),
        error        text,
        CONSTRAINT ops_restore_drills_finished_check
            CHECK ((status = 'running') = (finished_at IS NULL))
    )
    """,
    "CREATE INDEX ops_restore_drills_backup_idx ON ops_restore_drills (backup_id, started_at)",
    "CREATE INDEX ops_restore_drills_started_idx ON ops_restore_drills (started_at DESC)",
    f"""
    CREATE TABLE ops_health_snapshots (
        snapshot_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        checked_at  timestamptz NOT NULL DEFAULT now(),
        status      text NOT NULL CHECK (status IN {HEALTH_STATUSES}),
        checks      jsonb NOT NULL CHECK (jsonb_typeof(checks) = 'object'),
        problems    jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(problems) = 'array')
    )
    """,
    "CREATE INDEX ops_health_snapshots_checked_idx ON ops_health_snapshots (checked_at DESC)",
    """
    CREATE TABLE ops_row_changes (
        change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        table_name text NOT NULL,
        op         "char" NOT NULL CHECK (op IN ('I', 'U', 'D', 'T')),
        -- The primary key as {column: value}; NULL for a TRUNCATE or a table without a key.
        row_key    jsonb,
        txid       bigint NOT NULL DEFAULT txid_current(),
        changed_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX ops_row_changes_txid_idx ON ops_row_changes (txid, table_name)",
)

FUNCTIONS_SQL = (
    # `jsonb_build_object('k1', r.k1, ...)` over the primary key of a table, or NULL if none.
    """
    CREATE FUNCTION ops_key_expression(tbl regclass, alias text) RETURNS text
    LANGUAGE sql STABLE AS $$
        SELECT 'jsonb_build_object('
               || string_agg(format('%L, %I.%I', a.attname, alias, a.attname), ', '
                             ORDER BY array_position(i.indkey::int2[], a.attnum))
               || ')'
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = tbl AND i.indisprimary
    $$
    """,
    """
    CREATE FUNCTION ops_track_changes() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        key_expr text;
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            INSERT INTO ops_row_changes (table_name, op) VALUES (TG_TABLE_NAME, 'T');
            RETURN NULL;
        END IF;
        key_expr := ops_key_expression(TG_RELID, 'r');
        IF key_expr IS NULL THEN
            -- No primary key: the next incremental copies the whole table.
            INSERT INTO ops_row_changes (table_name, op) VALUES (TG_TABLE_NAME, 'T');
        ELSIF TG_OP = 'INSERT' THEN
            EXECUTE format(
                'INSERT INTO ops_row_changes (table_name, op, row_key) '
                'SELECT %L, ''I'', %s FROM ops_new r', TG_TABLE_NAME, key_expr);
        ELSIF TG_OP = 'UPDATE' THEN
            -- Old and new keys: an UPDATE may change the key itself.
            EXECUTE format(
                'INSERT INTO ops_row_changes (table_name, op, row_key) '
                'SELECT %L, ''U'', k FROM (SELECT %s AS k FROM ops_old r '
                'UNION SELECT %s FROM ops_new r) s', TG_TABLE_NAME, key_expr, key_expr);
        ELSE
            EXECUTE format(
                'INSERT INTO ops_row_changes (table_name, op, row_key) '
                'SELECT %L, ''D'', %s FROM ops_old r', TG_TABLE_NAME, key_expr);
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    # Transition tables allow one event per trigger, hence four triggers per table.
    """
    CREATE FUNCTION ops_attach_change_tracking(tbl regclass) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        name text := (SELECT relname FROM pg_class WHERE oid = tbl);
    BEGIN
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS ops_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION ops_track_changes()',
                       name || '_ops_changes_ins', tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s '
                       'REFERENCING OLD TABLE AS ops_old NEW TABLE AS ops_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION ops_track_changes()',
                       name || '_ops_changes_upd', tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS ops_old '
                       'FOR EACH STATEMENT EXECUTE FUNCTION ops_track_changes()',
                       name || '_ops_changes_del', tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION ops_track_changes()',
                       name || '_ops_changes_trunc', tbl);
    END;
    $$
    """,
    """
    CREATE FUNCTION ops_detach_change_tracking(tbl regclass) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        name text := (SELECT relname FROM pg_class WHERE oid = tbl);
        suffix text;
    BEGIN
        FOREACH suffix IN ARRAY ARRAY['ins', 'upd', 'del', 'trunc'] LOOP
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s',
                           name || '_ops_changes_' || suffix, tbl);
        END LOOP;
    END;
    $$
    """,
)


def upgrade() -> None:
    """Create the operations tables and functions, then track every data table of 0001."""
    for statement in (*TABLES_SQL, *FUNCTIONS_SQL):
        op.execute(statement)
    for table in TRACKED_TABLES:
        op.execute(f"SELECT ops_attach_change_tracking('{table}')")


def downgrade() -> None:
    """Detach the tracking triggers, then drop the functions and tables upgrade() created."""
    for table in reversed(TRACKED_TABLES):
        op.execute(f"SELECT ops_detach_change_tracking('{table}')")
    for function in (
        "ops_detach_change_tracking(regclass)",
        "ops_attach_change_tracking(regclass)",
        "ops_track_changes()",
        "ops_key_expression(regclass, text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for table in (
        "ops_row_changes",
        "ops_health_snapshots",
        "ops_restore_drills",
        "ops_backup_runs",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")
