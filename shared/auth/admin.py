"""Operator accounts: created only from the command line, never through the API."""

from __future__ import annotations

import re

from shared.auth import users_repository
from shared.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from shared.db import Database

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class AdminAccountError(ValueError):
    """The admin account cannot be created as asked."""


def create_admin(db: Database, *, email: str, name: str, password: str) -> int:
    """Create an `admin` user; refuses a taken email, a bad email or a short password."""
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise AdminAccountError(f"not a valid email address: {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminAccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with db.transaction() as cur:
        if users_repository.find_by_email(cur, email) is not None:
            raise AdminAccountError(f"an account with email {email} already exists")
        return users_repository.insert_user(
            cur, email=email, name=name, role="admin", password_hash=hash_password(password)
        )
