"""Accounts: register, sign in, and the signed-in user (API.md "Accounts").

Sign-in answers a wrong password and an unknown email with the same 401 body, and spends the
same argon2 verification on both, so neither the answer nor its timing tells whether an email
has an account.

The password is hashed or verified with no transaction open and inside a verification slot
(shared.auth.passwords: a few at once per process, 503 beyond), so a burst of sign-ins cannot
hold the pooled connections or the host's threads that everyone else's requests need.
"""

from __future__ import annotations

import secrets
from functools import cache

from models.accounts import LoginRequest, RegisterRequest, TokenResponse, User
from shared.auth import login_throttle, users_repository
from shared.auth.passwords import (
    hash_password,
    needs_rehash,
    verification_slot,
    verify_password,
)
from shared.auth.tokens import issue_token
from shared.auth.users_repository import UserRow
from shared.errors import ConflictError, NotFoundError, UnauthorizedError
from shared.observability import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger("accounts")

WRONG_CREDENTIALS = "The email or password is incorrect."


def register(uow: UnitOfWork, body: RegisterRequest) -> TokenResponse:
    """Create a guardian or caregiver account and sign it in; 409 if the email is taken."""
    with verification_slot():  # before the transaction begins: it is slow
        password_hash = hash_password(body.password)
    cur = uow.cursor
    if users_repository.find_by_email(cur, body.email) is not None:
        raise ConflictError(users_repository.EMAIL_TAKEN)
    # Two registrations that race past this check: the unique index decides (a registered
    # ConflictRule, the same 409).
    user_id = users_repository.insert_user(
        cur,
        email=body.email,
        name=body.name,
        role=str(body.role),
        password_hash=password_hash,
        phone=body.phone,
        gender=body.gender,
    )
    user = users_repository.get_user(cur, user_id)
    assert user is not None
    log.info("user_registered", user_id=user_id, role=str(body.role))
    return _token_response(user)


def login(uow: UnitOfWork, body: LoginRequest, *, client_ip: str | None) -> TokenResponse:
    """Check the password (throttled per account and address); a token, 401, 429 or 503.

    Three short steps (shared.auth.login_throttle): one transaction reads the account, checks
    the limits and reserves the attempt as a failure, and commits; the password is verified
    with no transaction open; a second transaction marks the attempt succeeded and stamps the
    sign-in, provided the account still has the verified hash and is active.
    """
    with verification_slot():
        cur = uow.cursor
        user = users_repository.find_by_email(cur, body.email)
        subject = login_throttle.Subject(
            user_id=user["user_id"] if user else None, email=body.email
        )
        attempt_id = login_throttle.reserve(cur, subject, client_ip=client_ip)
        uow.commit()  # the reservation counts even if this process dies while verifying
        stored_hash = user["password_hash"] if user else None
        # Unknown emails are verified against a dummy hash: the same work, the same answer.
        matched = verify_password(stored_hash or _dummy_hash(), body.password)
        succeeded = bool(matched and stored_hash and user and user["is_active"])
        rehashed = (
            hash_password(body.password)
            if succeeded and stored_hash and needs_rehash(stored_hash)
            else None
        )
    if user is None or stored_hash is None or not succeeded:
        log.info("login_failed", client_ip=client_ip)
        raise UnauthorizedError(WRONG_CREDENTIALS)
    cur = uow.cursor  # a second, short transaction
    signed_in = users_repository.record_login(
        cur, user["user_id"], verified_hash=stored_hash, new_password_hash=rehashed
    )
    if signed_in is None:  # deactivated or given another password while we verified
        log.info("login_failed", client_ip=client_ip, reason="account changed meanwhile")
        raise UnauthorizedError(WRONG_CREDENTIALS)
    login_throttle.record_success(cur, attempt_id)
    log.info("login_succeeded", user_id=user["user_id"])
    return _token_response(signed_in, version=signed_in["token_version"])


def current_user(uow: UnitOfWork) -> User:
    """The signed-in user's account; 404 when it no longer exists."""
    user = users_repository.get_user(uow.cursor, uow.principal.user_id)
    if user is None:
        raise NotFoundError("The account no longer exists.")
    return User.model_validate(user)


def _token_response(user: UserRow, *, version: int = 0) -> TokenResponse:
    token, lifetime = issue_token(user["user_id"], user["role"], version=version)
    return TokenResponse(user=User.model_validate(user), access_token=token, expires_in=lifetime)


@cache
def _dummy_hash() -> str:
    # Made once per process, inside the caller's verification slot.
    return hash_password(secrets.token_urlsafe(16))
