"""Accounts: register, sign in, and the signed-in user (API.md "Accounts").

Sign-in answers a wrong password and an unknown email with the same 401 body, and spends the
same argon2 verification on both, so neither the answer nor its timing tells whether an email
has an account.
"""

from __future__ import annotations

import secrets
from functools import cache

import psycopg2.errors

from models.accounts import LoginRequest, RegisterRequest, TokenResponse, User
from shared.auth import login_throttle, users_repository
from shared.auth.passwords import hash_password, needs_rehash, verify_password
from shared.auth.principal import Principal
from shared.auth.tokens import issue_token
from shared.db import Database
from shared.errors import ConflictError, NotFoundError, UnauthorizedError
from shared.observability import get_logger

log = get_logger("accounts")

WRONG_CREDENTIALS = "The email or password is incorrect."


def register(db: Database, body: RegisterRequest) -> TokenResponse:
    """Create a guardian or caregiver account and sign it in; 409 if the email is taken."""
    password_hash = hash_password(body.password)  # outside the transaction: it is slow
    try:
        with db.transaction() as cur:
            if users_repository.find_by_email(cur, body.email) is not None:
                raise ConflictError("An account with this email already exists.")
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
    except psycopg2.errors.UniqueViolation:
        # Two registrations raced past the check; the unique index decided.
        raise ConflictError("An account with this email already exists.") from None
    log.info("user_registered", user_id=user_id, role=str(body.role))
    return _token_response(user)


def login(db: Database, body: LoginRequest, *, client_ip: str | None) -> TokenResponse:
    """Check the password (throttled per email); a token, 401, or 429 with Retry-After."""
    with db.transaction() as cur:
        login_throttle.lock_email(cur, body.email)
        login_throttle.check_not_locked(cur, body.email)
        user = users_repository.find_by_email(cur, body.email)
        stored_hash = user["password_hash"] if user else None
        # Unknown emails are verified against a dummy hash: the same work, the same answer.
        matched = verify_password(stored_hash or _dummy_hash(), body.password)
        succeeded = bool(matched and stored_hash and user["is_active"])
        login_throttle.record_attempt(cur, body.email, succeeded=succeeded, client_ip=client_ip)
        if succeeded:
            rehashed = hash_password(body.password) if needs_rehash(stored_hash) else None
            users_repository.record_login(cur, user["user_id"], rehashed)
    if not succeeded:
        log.info("login_failed", client_ip=client_ip)
        raise UnauthorizedError(WRONG_CREDENTIALS)
    log.info("login_succeeded", user_id=user["user_id"])
    return _token_response(user)


def current_user(db: Database, principal: Principal) -> User:
    with db.transaction(readonly=True) as cur:
        user = users_repository.get_user(cur, principal.user_id)
    if user is None:
        raise NotFoundError("The account no longer exists.")
    return User.model_validate(user)


def _token_response(user: dict) -> TokenResponse:
    token, lifetime = issue_token(user["user_id"], user["role"])
    return TokenResponse(user=User.model_validate(user), access_token=token, expires_in=lifetime)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
