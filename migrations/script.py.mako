"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

from alembic import op
${imports if imports else ""}
# Revision identifiers, used by Alembic. Pick short sequential ids: `alembic revision --rev-id 0002`.
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    """Apply the change (raw SQL through op.execute; every statement runs in one transaction)."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Undo exactly what upgrade() did, so `alembic downgrade -1` is always safe to run."""
    ${downgrades if downgrades else "pass"}
