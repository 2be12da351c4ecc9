"""Work that outlives a request: backup runs are also queue jobs, with a lease (issue 13 item 3).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

`POST /api/admin/backups` no longer runs the backup on the HTTP worker. It records the run
`queued` and puts a message carrying only its `backup_id` (the job id) on a Storage queue; a
queue-triggered function claims the row and does the work (shared.jobs, shared.backup.service).
The run row is the job record, so the list of backups shows queued, running and abandoned jobs
beside finished ones, and a resumed job ends as the same row:

- `status` gains `queued` (recorded, its message not yet taken; `finished_at` stays NULL).
- `queued_at`: when a job was accepted; NULL for runs a timer or a command started directly.
- `attempts`: how many times a worker started the run (a resumed job counts each start).
- `worker`: which worker runs it now (host and process), for the operators.
- `heartbeat_at`, `lease_expires_at`: the worker renews the lease while it works; a `running`
  row whose lease has expired belongs to a worker that died (shown as `abandoned`), and no
  longer counts as a backup in progress.
- `requested_actor`: who asked for a queued job (user id, role, request id, client address, or
  the timer), so the worker's audit event names them. No name, email or secret.

The new columns belong to `ops_backup_runs`, which the app role (0006) may already SELECT,
INSERT, UPDATE and DELETE: table privileges cover columns added later, so there is no new grant.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE_SQL = (
    """
    ALTER TABLE ops_backup_runs
        ADD COLUMN queued_at        timestamptz,
        ADD COLUMN attempts         integer NOT NULL DEFAULT 0
                                    CONSTRAINT ops_backup_runs_attempts_check CHECK (attempts >= 0),
        ADD COLUMN worker           text,
        ADD COLUMN heartbeat_at     timestamptz,
        ADD COLUMN lease_expires_at timestamptz,
        ADD COLUMN requested_actor  jsonb
    """,
    # Every run recorded before this revision was started once.
    "UPDATE ops_backup_runs SET attempts = 1",
    """
    ALTER TABLE ops_backup_runs
        DROP CONSTRAINT ops_backup_runs_status_check,
        ADD CONSTRAINT ops_backup_runs_status_check
            CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        DROP CONSTRAINT ops_backup_runs_finished_check,
        ADD CONSTRAINT ops_backup_runs_finished_check
            CHECK ((status IN ('queued', 'running')) = (finished_at IS NULL)),
        ADD CONSTRAINT ops_backup_runs_queued_check
            CHECK (status <> 'queued' OR queued_at IS NOT NULL)
    """,
    # The jobs in flight: what the overlap check and recovery read.
    """
    CREATE INDEX ops_backup_runs_active_idx ON ops_backup_runs (status, lease_expires_at)
        WHERE status IN ('queued', 'running')
    """,
)

DOWNGRADE_SQL = (
    "DROP INDEX IF EXISTS ops_backup_runs_active_idx",
    # A queued job has no place in the old vocabulary: it never ran.
    """
    UPDATE ops_backup_runs
    SET status = 'failed', finished_at = now(),
        error = coalesce(error, 'not run: the work queue was removed by a downgrade')
    WHERE status = 'queued'
    """,
    """
    ALTER TABLE ops_backup_runs
        DROP CONSTRAINT ops_backup_runs_queued_check,
        DROP CONSTRAINT ops_backup_runs_finished_check,
        ADD CONSTRAINT ops_backup_runs_finished_check
            CHECK ((status = 'running') = (finished_at IS NULL)),
        DROP CONSTRAINT ops_backup_runs_status_check,
        ADD CONSTRAINT ops_backup_runs_status_check
            CHECK (status IN ('running', 'succeeded', 'failed'))
    """,
    """
    ALTER TABLE ops_backup_runs
        DROP COLUMN requested_actor,
        DROP COLUMN lease_expires_at,
        DROP COLUMN heartbeat_at,
        DROP COLUMN worker,
        DROP COLUMN attempts,
        DROP COLUMN queued_at
    """,
)


def upgrade() -> None:
    """Queue columns, the `queued` status and the lease on backup runs."""
    for statement in UPGRADE_SQL:
        op.execute(statement)


def downgrade() -> None:
    """Settle queued jobs as failed, restore the old checks and drop the columns."""
    for statement in DOWNGRADE_SQL:
        op.execute(statement)
