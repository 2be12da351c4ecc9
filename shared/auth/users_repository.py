"""SQL for user accounts (the only module that writes the users table)."""

from __future__ import annotations

from typing import Any

_USER_COLUMNS = "user_id, email, name, phone, role, gender, created_at"


def find_by_email(cur: Any, email: str) -> dict[str, Any] | None:
    """A not-deleted account by email (case-insensitive), with its hash and active flag."""
    cur.execute(
        f"SELECT {_USER_COLUMNS}, password_hash, is_active"  # noqa: S608  (constant columns)
        " FROM users WHERE lower(email) = lower(%s) AND deleted_at IS NULL",
        (email,),
    )
    return cur.fetchone()


def find_active_by_id(cur: Any, user_id: int) -> dict[str, Any] | None:
    """An account that may act: not deleted and not deactivated."""
    cur.execute(
        f"SELECT {_USER_COLUMNS} FROM users"  # noqa: S608  (constant columns)
        " WHERE user_id = %s AND is_active AND deleted_at IS NULL",
        (user_id,),
    )
    return cur.fetchone()


def insert_user(
    cur: Any,
    *,
    email: str,
    name: str,
    role: str,
    password_hash: str | None,
    phone: str | None = None,
    gender: str | None = None,
) -> int:
    cur.execute(
        "INSERT INTO users (email, name, role, password_hash, phone, gender)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING user_id",
        (email, name, role, password_hash, phone, gender),
    )
    return cur.fetchone()["user_id"]


def get_user(cur: Any, user_id: int) -> dict[str, Any] | None:
    cur.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = %s",  # noqa: S608
        (user_id,),
    )
    return cur.fetchone()


def record_login(cur: Any, user_id: int, new_password_hash: str | None = None) -> None:
    """Stamp the sign-in; store a re-made hash when the hashing parameters changed."""
    cur.execute(
        "UPDATE users SET last_login_at = now(),"
        " password_hash = coalesce(%s, password_hash) WHERE user_id = %s",
        (new_password_hash, user_id),
    )


def set_password_hash(cur: Any, email: str, password_hash: str) -> int | None:
    """Set an account's password (operator command); the user id, or None if no such email."""
    cur.execute(
        "UPDATE users SET password_hash = %s"
        " WHERE lower(email) = lower(%s) AND deleted_at IS NULL RETURNING user_id",
        (password_hash, email),
    )
    row = cur.fetchone()
    return row["user_id"] if row else None
