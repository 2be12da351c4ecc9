"""Import lookup: which row each source id of the pilot's CSV files became.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

`manage.py import-csv` loads the earlier pilot's CSV exports. Their ids (caregiver_id "C0001",
patient_id "P0001", ...) are not ours, and patients, matchings and reviews have no natural key,
so a second run could only tell "already imported" from "new" by remembering the mapping. This
table is that memory: one row per (entity, source id) with the id of the row it became. A re-run
updates those rows instead of duplicating them; a mapping whose target row was deleted since is
treated as new and re-pointed.

`imported_at` is the first import of the source row, `updated_at` the last run that applied it.
The table is data (a restore without it would make the next import duplicate everything), so it
carries the change tracking of revision 0002 like every data table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The source entities as of this revision, each with the table its target_id points into:
# caregiver -> caregivers, guardian -> guardians, patient -> patients, matching_request ->
# matching_requests, matching -> matching_results, review -> reviews. Frozen here on purpose.
ENTITIES = ("caregiver", "guardian", "patient", "matching_request", "matching", "review")


def upgrade() -> None:
    """Create the lookup table and attach the backup change tracking to it."""
    entities = ", ".join(f"'{entity}'" for entity in ENTITIES)
    op.execute(
        f"""
        CREATE TABLE import_source_ids (
            entity      text NOT NULL CHECK (entity IN ({entities})),
            source_id   text NOT NULL CHECK (char_length(source_id) BETWEEN 1 AND 64),
            target_id   bigint NOT NULL,
            imported_at timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (entity, source_id)
        )
        """
    )
    # "Which pilot id did this caregiver have?" (support questions, re-exports).
    op.execute("CREATE INDEX import_source_ids_target_idx ON import_source_ids (entity, target_id)")
    op.execute("SELECT ops_attach_change_tracking('import_source_ids')")


def downgrade() -> None:
    """Drop the lookup table (its tracking triggers go with it)."""
    op.execute("SELECT ops_detach_change_tracking('import_source_ids')")
    op.execute("DROP TABLE IF EXISTS import_source_ids")
