"""Account commands: set a password for an account that has none (imported users) or lost it."""

from __future__ import annotations

import argparse

from cli.common import AddCommand, fail, load_settings, read_password


def cmd_set_password(args: argparse.Namespace) -> int:
    """Set an account's password; it is read from standard input, never from the command line.

    Every access token issued before stops working (the account's token version moves on)."""
    from models.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
    from shared.auth import users_repository
    from shared.auth.passwords import hash_password
    from shared.unit_of_work import UnitOfWork

    load_settings()
    password = read_password(f"New password for {args.email}: ")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return fail(
            f"the password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    password_hash = hash_password(password)  # before the transaction begins: it is slow
    with UnitOfWork.for_job() as uow:
        user_id = users_repository.set_password_hash(uow.cursor, args.email, password_hash)
    if user_id is None:
        return fail(f"no account with email {args.email}")
    print(f"password set for {args.email} (user_id {user_id}); earlier access tokens revoked")
    return 0


def register(add: AddCommand) -> None:
    sub = add("set-password", cmd_set_password)
    sub.add_argument("email", help="the account's email address")
