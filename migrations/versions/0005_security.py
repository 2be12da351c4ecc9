"""Security: token revocation, sign-in throttling by account and address, rate limits.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

- `users.token_version`: every access token carries the version it was issued under (`ver`); a
  password change or a deactivation increments it, so every token issued before stops working
  on every instance at once (no token list to keep). Tokens issued before this revision carry
  no `ver` and count as version 0.
- `login_attempts.user_id`: the account an attempt resolved to (NULL for an unknown address),
  so failures are counted per account (whatever spelling of the address was typed) and per
  (account, client address); with the index on `client_ip`, per client address across accounts.
- `ops_rate_limits`: fixed-window counters of costly actions per user (AI writing, matching
  requests), shared by every instance. Operations state like the other `ops_` tables: not backed
  up (a restored server starts with empty counters), pruned by maintenance.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the token version, the attempt's account and the rate-limit counters."""
    op.execute(
        "ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0"
        " CONSTRAINT users_token_version_check CHECK (token_version >= 0)"
    )
    op.execute(
        "ALTER TABLE login_attempts ADD COLUMN user_id bigint REFERENCES users ON DELETE CASCADE"
    )
    op.execute(
        "CREATE INDEX login_attempts_user_time_idx ON login_attempts (user_id, attempted_at)"
        " WHERE user_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX login_attempts_client_time_idx ON login_attempts (client_ip, attempted_at)"
        " WHERE client_ip IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE ops_rate_limits (
            subject      text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 200),
            action       text NOT NULL CHECK (char_length(action) BETWEEN 1 AND 100),
            window_start timestamptz NOT NULL,
            hits         integer NOT NULL DEFAULT 0 CHECK (hits >= 0),
            PRIMARY KEY (subject, action, window_start)
        )
        """
    )


def downgrade() -> None:
    """Drop what upgrade() added."""
    op.execute("DROP TABLE IF EXISTS ops_rate_limits")
    op.execute("DROP INDEX IF EXISTS login_attempts_client_time_idx")
    op.execute("DROP INDEX IF EXISTS login_attempts_user_time_idx")
    op.execute("ALTER TABLE login_attempts DROP COLUMN IF EXISTS user_id")
    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS token_version")
