"""Accounts: register, sign in, and the signed-in user (API.md "Accounts").

Sign-in answers a wrong password and an unknown email with the same 401 body, and spends the
same argon2 verification on both, so neither the answer nor its timing tells whether an email
has an account.
"""

from __future__ import annotations

import secrets
from functools import cache

from models.accounts import LoginRequest, RegisterRequest, TokenResponse, User
from shared.auth import login_throttle, users_repository
from shared.auth.passwords import hash_password, needs_rehash, verify_password
from shared.auth.tokens import issue_token
from shared.auth.users_repository import UserRow
from shared.errors import ConflictError, NotFoundError, UnauthorizedError
from shared.observability import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger("accounts")

WRONG_CREDENTIALS = "The email or password is incorrect."


def register(uow: UnitOfWork, body: RegisterRequest) -> TokenResponse:
    """Create a guardian or caregiver account and sign it in; 409 if the email is taken."""
    password_hash = hash_password(body.password)  # before the transaction begins: it is slow
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
    """Check the password (throttled per email); a token, 401, or 429 with Retry-After.

    A failed attempt must be recorded even though the answer is an error, so the transaction
    is committed here before the 401 is raised (the pipeline would roll it back).
    """
    cur = uow.cursor
    login_throttle.lock_email(cur, body.email)
    login_throttle.check_not_locked(cur, body.email)
    user = users_repository.find_by_email(cur, body.email)
    stored_hash = user["password_hash"] if user else None
    # Unknown emails are verified against a dummy hash: the same work, the same answer.
    matched = verify_password(stored_hash or _dummy_hash(), body.password)
    succeeded = bool(matched and stored_hash and user and user["is_active"])
    login_throttle.record_attempt(cur, body.email, succeeded=succeeded, client_ip=client_ip)
    if user is None or stored_hash is None or not succeeded:
        uow.commit()
        log.info("login_failed", client_ip=client_ip)
        raise UnauthorizedError(WRONG_CREDENTIALS)
    rehashed = hash_password(body.password) if needs_rehash(stored_hash) else None
    users_repository.record_login(cur, user["user_id"], rehashed)
    log.info("login_succeeded", user_id=user["user_id"])
    return _token_response(user)


def current_user(uow: UnitOfWork) -> User:
    """The signed-in user's account; 404 when it no longer exists."""
    user = users_repository.get_user(uow.cursor, uow.principal.user_id)
    if user is None:
        raise NotFoundError("The account no longer exists.")
    return User.model_validate(user)


def _token_response(user: UserRow) -> TokenResponse:
    token, lifetime = issue_token(user["user_id"], user["role"])
    return TokenResponse(user=User.model_validate(user), access_token=token, expires_in=lifetime)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
