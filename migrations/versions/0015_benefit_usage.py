"""Long-term-care benefits: notifications of the monthly cap (80 %, 100 %) and timesheets (issue 18).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

- The notification events `benefit_cap_80` and `benefit_cap_100` (the month's use of the
  long-term-care benefit reached 80 % / 100 % of the grade's monthly cap): the CHECKs of
  `notification_outbox.event_type` and `notifications.event_type` are widened to allow them.
- Timesheets (per caregiver and month) read the visits a caregiver checked into in the month:
  an index on (caregiver_id, check_in_at) of the visits that have a check-in.

Vocabularies are frozen here, as in 0001 and 0012.
"""

from collections.abc import Iterable, Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS_0012 = (
    "visit_check_in",
    "visit_check_out",
    "visit_late",
    "visit_missed",
    "visit_cancelled",
    "incident",
    "care_report_ready",
    "correction_pending",
)
EVENTS = (*EVENTS_0012, "benefit_cap_80", "benefit_cap_100")
TABLES = ("notification_outbox", "notifications")


def _one_of(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _event_check(events: Sequence[str]) -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_event_type_check")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_event_type_check"
            f" CHECK (event_type IN {_one_of(events)})"
        )


def upgrade() -> None:
    _event_check(EVENTS)
    op.execute(
        "CREATE INDEX visits_caregiver_check_in_idx ON visits (caregiver_id, check_in_at)"
        " WHERE check_in_at IS NOT NULL"
    )
    # The monthly statements and the cap alerts walk the patients with delivered visits in a
    # month in patient order, in batches: an index in that order, not a scan of every visit.
    op.execute(
        "CREATE INDEX visits_completed_patient_check_in_idx ON visits (patient_id, check_in_at)"
        " WHERE status = 'completed'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX visits_completed_patient_check_in_idx")
    op.execute("DROP INDEX visits_caregiver_check_in_idx")
    op.execute("DELETE FROM notifications WHERE event_type LIKE 'benefit_cap_%'")
    op.execute("DELETE FROM notification_outbox WHERE event_type LIKE 'benefit_cap_%'")
    _event_check(EVENTS_0012)
