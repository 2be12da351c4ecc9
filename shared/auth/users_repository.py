"""SQL for user accounts (the only module that writes the users table)."""

from __future__ import annotations

from typing import Any


def find_by_email(cur: Any, email: str) -> dict[str, Any] | None:
    cur.execute(
        "SELECT user_id, email, name, phone, role, gender, password_hash, is_active, created_at"
        " FROM users WHERE lower(email) = lower(%s) AND deleted_at IS NULL",
        (email,),
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
