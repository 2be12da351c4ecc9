"""National scale: care data (care logs, schedules, reports) answered through indexes (issue 16).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

At ten million care logs every care-data read is already bounded by the patient (schedules by
`(patient_id, schedule_date)`, care logs by their schedule), but the care-log side still visits
the heap of every log it counts. One index replaces `care_logs_schedule_id_idx (schedule_id)`:

    care_logs_schedule_order_idx ON care_logs (schedule_id, scheduled_time, care_log_id)
        INCLUDE (category, is_completed)

- the day's logs (`care_logs_of`) come out of it in the order they are served (schedule, time
  with NULLs last as the index stores them, id), without a sort;
- the dashboard's today counts and a care report's completion rates by category read only the
  index (an index-only scan once VACUUM has set the visibility map): no heap page per log;
- it still serves the foreign key `(schedule_id, patient_id)`'s cascades and lookups by
  schedule, so the number of indexes a care-log write maintains stays the same.

`schedules_patient_date_idx (patient_id, schedule_date)` becomes
`schedules_patient_date_cover_idx (patient_id, schedule_date) INCLUDE (status, schedule_id)`:
a report's period and the dashboard's today (patient, dates, confirmed statuses, then their
care logs by schedule id) read schedules and care logs from the two indexes alone, where the
heap would cost one page per row (a patient's rows are written a day at a time, between every
other patient's).

Both indexes lead with a column every query names, and the patient is the future distribution
column (docs/scaling.md): on a Citus cluster these stay shard-local indexes.

Bulk statements and change tracking: 0002's statement-level triggers log one key per row a
statement touched. For the statements of a national import or a restore (a million and a half
availability slots in one INSERT) that log costs a third of the statement and the next
incremental then upserts every key. From `WHOLE_TABLE_ROWS` rows, and when they are at least a
quarter of the table (pg_class.reltuples; a table never analyzed counts as empty), the trigger
logs the statement as a whole-table change instead ('T', as a TRUNCATE): the next incremental
copies that table whole, which is what upserting that many of its keys would have cost anyway.
Small statements, and large ones on large tables (1 % of ten million care logs), keep their
per-key log. The app's role keeps its grants (CREATE OR REPLACE keeps owner and ACL).

On a large live database, create the indexes beforehand with CREATE INDEX CONCURRENTLY under
the same names (this migration then finds them, `IF NOT EXISTS`) and drop the old ones
concurrently after: Alembic runs a revision in one transaction, where CONCURRENTLY cannot run.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    """
    CREATE INDEX IF NOT EXISTS care_logs_schedule_order_idx
        ON care_logs (schedule_id, scheduled_time, care_log_id) INCLUDE (category, is_completed)
    """,
    "DROP INDEX IF EXISTS care_logs_schedule_id_idx",
    """
    CREATE INDEX IF NOT EXISTS schedules_patient_date_cover_idx
        ON schedules (patient_id, schedule_date) INCLUDE (status, schedule_id)
    """,
    "DROP INDEX IF EXISTS schedules_patient_date_idx",
)

#: From this many rows a statement may be logged as a whole-table change (see above).
WHOLE_TABLE_ROWS = 50_000


def _track_changes(bulk_check: str) -> str:
    """0002's ops_track_changes, with `bulk_check` (SQL setting `bulk`) before the per-key log."""
    return f"""
    CREATE OR REPLACE FUNCTION ops_track_changes() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        key_expr text;
        bulk boolean := false;
        touched bigint;
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            INSERT INTO ops_row_changes (table_name, op) VALUES (TG_TABLE_NAME, 'T');
            RETURN NULL;
        END IF;
        {bulk_check}
        key_expr := ops_key_expression(TG_RELID, 'r');
        IF key_expr IS NULL OR bulk THEN
            -- No primary key, or a bulk statement: the next incremental copies the whole table.
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
    """  # noqa: S608 (constants of this module)


BULK_CHECK = f"""
        EXECUTE 'SELECT count(*) FROM '
                || CASE WHEN TG_OP = 'DELETE' THEN 'ops_old' ELSE 'ops_new' END INTO touched;
        IF touched >= {WHOLE_TABLE_ROWS} THEN
            bulk := touched * 4 >= (SELECT greatest(reltuples, 0) FROM pg_class
                                    WHERE oid = TG_RELID);
        END IF;"""  # noqa: S608 (constants of this module)

UPGRADE = (*UPGRADE, _track_changes(BULK_CHECK))

DOWNGRADE = (
    _track_changes("-- (0002: every statement logs its keys)"),
    "CREATE INDEX IF NOT EXISTS schedules_patient_date_idx ON schedules (patient_id, schedule_date)",
    "DROP INDEX IF EXISTS schedules_patient_date_cover_idx",
    "CREATE INDEX IF NOT EXISTS care_logs_schedule_id_idx ON care_logs (schedule_id)",
    "DROP INDEX IF EXISTS care_logs_schedule_order_idx",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
