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
#: The one normalisation of a typed address (SQL, parameter `email`); the sign-in throttle keys
#: addresses with no account on it too.
EMAIL_KEY = "lower(btrim(%(email)s))"
#: The one comparison of a stored address with a typed one (the unique index's expression).
EMAIL_MATCH = f"lower(email) = {EMAIL_KEY}"


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
    token_version: int


class ActiveUserRow(UserRow):
    """An account that may act, with the version its tokens must carry."""

    token_version: int


def find_by_email(cur: Cursor, email: str) -> UserCredentialsRow | None:
    """A not-deleted account by email (case-insensitive), with its hash and active flag."""
    cur.execute(
        f"SELECT {_USER_COLUMNS}, password_hash, is_active, token_version"  # noqa: S608
        f" FROM users WHERE {EMAIL_MATCH} AND deleted_at IS NULL",
        {"email": email},
    )
    return cast(UserCredentialsRow | None, cur.fetchone())


def find_active_by_id(cur: Cursor, user_id: int) -> ActiveUserRow | None:
    """An account that may act: not deleted and not deactivated."""
    cur.execute(
        f"SELECT {_USER_COLUMNS}, token_version FROM users"  # noqa: S608  (constant columns)
        " WHERE user_id = %s AND is_active AND deleted_at IS NULL",
        (user_id,),
    )
    return cast(ActiveUserRow | None, cur.fetchone())


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
        " VALUES (btrim(%s), %s, %s, %s, %s, %s) RETURNING user_id",
        (email, name, role, password_hash, phone, gender),
    )
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("INSERT ... RETURNING returned no row")
    return int(row["user_id"])


def get_user(cur: Cursor, user_id: int) -> UserRow | None:
    cur.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = %s",  # noqa: S608
        (user_id,),
    )
    return cast(UserRow | None, cur.fetchone())


def record_login(
    cur: Cursor, user_id: int, *, verified_hash: str, new_password_hash: str | None = None
) -> UserCredentialsRow | None:
    """Stamp the sign-in (storing a re-made hash when the hashing parameters changed) of an
    account still active with the hash that was verified; the account, or None when it was
    deactivated, deleted or given another password since."""
    cur.execute(
        "UPDATE users SET last_login_at = now(),"  # noqa: S608
        " password_hash = coalesce(%(new_hash)s, password_hash)"
        " WHERE user_id = %(user_id)s AND password_hash = %(verified_hash)s"
        " AND is_active AND deleted_at IS NULL"
        f" RETURNING {_USER_COLUMNS}, password_hash, is_active, token_version",
        {"new_hash": new_password_hash, "user_id": user_id, "verified_hash": verified_hash},
    )
    return cast(UserCredentialsRow | None, cur.fetchone())


def set_password_hash(cur: Cursor, email: str, password_hash: str) -> int | None:
    """Set an account's password and revoke its tokens; the user id, or None if no such email."""
    cur.execute(
        "UPDATE users SET password_hash = %(hash)s, token_version = token_version + 1"  # noqa: S608
        f" WHERE {EMAIL_MATCH} AND deleted_at IS NULL RETURNING user_id",
        {"hash": password_hash, "email": email},
    )
    row = cur.fetchone()
    return int(row["user_id"]) if row else None


def deactivate(cur: Cursor, user_id: int) -> bool:
    """Deactivate an account and revoke its tokens (a later reactivation does not revive them);
    False if there is no such account."""
    cur.execute(
        "UPDATE users SET is_active = false, token_version = token_version + 1"
        " WHERE user_id = %s RETURNING user_id",
        (user_id,),
    )
    return cur.fetchone() is not None
