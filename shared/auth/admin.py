"""Operator accounts: created only from the command line, never through the API."""

from __future__ import annotations

import re

from shared.auth import users_repository
from shared.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from shared.unit_of_work import UnitOfWork

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class AdminAccountError(ValueError):
    """The admin account cannot be created as asked."""


def create_admin(uow: UnitOfWork, *, email: str, name: str, password: str) -> int:
    """Create an `admin` user; refuses a taken email, a bad email or a short password."""
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise AdminAccountError(f"not a valid email address: {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminAccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = hash_password(password)  # before the transaction begins: it is slow
    if users_repository.find_by_email(uow.cursor, email) is not None:
        raise AdminAccountError(f"an account with email {email} already exists")
    return users_repository.insert_user(
        uow.cursor, email=email, name=name, role="admin", password_hash=password_hash
    )
