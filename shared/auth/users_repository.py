"""SQL for user accounts: sign-up, sign-in, the token check and the operator commands.

Every account the app itself creates or changes goes through here (the API, `manage.py`
commands and the demo seed). Two other writers of the users table exist: the
bulk CSV import (shared.data_import.repository: `ensure_users` inserts its accounts and
`update_users` sets their name and gender, each one multi-row statement) and a backup restore
(shared.backup.restore), which reloads the table whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from shared.db import Cursor
from shared.integrity import ConflictRule, register_constraints

EMAIL_TAKEN = "An account with this email already exists."

# Two registrations that raced past the email check: the unique index decides.
register_constraints({"users_email_lower_key": ConflictRule(EMAIL_TAKEN)})

_USER_COLUMNS = "user_id, email, name, phone, role, gender, created_at"


class UserRow(TypedDict):
    """An account as the API shows it (models.accounts.User)."""

    user_id: int
    email: str
    name: str
    phone: str | None
    role: str
    gender: str | None
    created_at: datetime


class UserCredentialsRow(UserRow):
    """An account with what sign-in checks."""

    password_hash: str | None
    is_active: bool


def find_by_email(cur: Cursor, email: str) -> UserCredentialsRow | None:
    """A not-deleted account by email (case-insensitive), with its hash and active flag."""
    cur.execute(
        f"SELECT {_USER_COLUMNS}, password_hash, is_active"  # noqa: S608  (constant columns)
        " FROM users WHERE lower(email) = lower(%s) AND deleted_at IS NULL",
        (email,),
    )
    return cast(UserCredentialsRow | None, cur.fetchone())


def find_active_by_id(cur: Cursor, user_id: int) -> UserRow | None:
    """An account that may act: not deleted and not deactivated."""
    cur.execute(
        f"SELECT {_USER_COLUMNS} FROM users"  # noqa: S608  (constant columns)
        " WHERE user_id = %s AND is_active AND deleted_at IS NULL",
        (user_id,),
    )
    return cast(UserRow | None, cur.fetchone())


def insert_user(
    cur: Cursor,
    *,
    email: str,
    name: str,
    role: str,
    password_hash: str | None,
    phone: str | None = None,
    gender: str | None = None,
) -> int:
    """A new account; its id."""
    cur.execute(
        "INSERT INTO users (email, name, role, password_hash, phone, gender)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING user_id",
        (email, name, role, password_hash, phone, gender),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["user_id"])


def get_user(cur: Cursor, user_id: int) -> UserRow | None:
    cur.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = %s",  # noqa: S608
        (user_id,),
    )
    return cast(UserRow | None, cur.fetchone())


def record_login(cur: Cursor, user_id: int, new_password_hash: str | None = None) -> None:
    """Stamp the sign-in; store a re-made hash when the hashing parameters changed."""
    cur.execute(
        "UPDATE users SET last_login_at = now(),"
        " password_hash = coalesce(%s, password_hash) WHERE user_id = %s",
        (new_password_hash, user_id),
    )


def set_password_hash(cur: Cursor, email: str, password_hash: str) -> int | None:
    """Set an account's password (operator command); the user id, or None if no such email."""
    cur.execute(
        "UPDATE users SET password_hash = %s"
        " WHERE lower(email) = lower(%s) AND deleted_at IS NULL RETURNING user_id",
        (password_hash, email),
    )
    row = cur.fetchone()
    return int(row["user_id"]) if row else None
