"""Who is calling: a bearer token checked, then its user loaded and checked to be active.

Every non-public route is authenticated before its input is even validated, in two steps: the
token's signature and expiry (`bearer_claims`, no database), then its user (`principal_for`).
A token is only as good as its user: a deleted or deactivated account, one whose role changed
since the token was issued, or one whose token version moved on (a password change or a
deactivation since) is refused with 401 like a forged token.

The HTTP pipeline reads the user with the request's own cursor: the check is the first statement
of the request's unit of work (one connection and one transaction per request). Callers outside
a request (the readiness check) use `authenticate_bearer`, which reads it in a short read-only
transaction of its own.
"""

from __future__ import annotations

from models.vocabularies import Role
from shared.auth import users_repository
from shared.auth.principal import Principal
from shared.auth.tokens import InvalidTokenError, TokenClaims, decode_token
from shared.db import Cursor, get_database
from shared.errors import UnauthorizedError
from shared.observability import get_logger

log = get_logger("auth")

_MISSING = "Authentication is required: send 'Authorization: Bearer <access_token>'."
_INVALID = "The access token is invalid or has expired; sign in again."


def authenticate_bearer(authorization: str | None) -> Principal:
    """The principal named by an `Authorization: Bearer` header value, its user read in a
    transaction of its own; 401 otherwise."""
    claims = bearer_claims(authorization)
    with get_database().transaction(readonly=True) as cur:
        return principal_for(cur, claims)


def bearer_claims(authorization: str | None) -> TokenClaims:
    """The claims of a well-signed, unexpired bearer token (no database); 401 otherwise."""
    token = _bearer_token(authorization)
    try:
        return decode_token(token)
    except InvalidTokenError as exc:
        log.info("token_refused", reason=str(exc))
        raise UnauthorizedError(_INVALID) from None


def principal_for(cur: Cursor, claims: TokenClaims) -> Principal:
    """The token's user, read with `cur`, if it may still act with this token; 401 otherwise."""
    user = users_repository.find_active_by_id(cur, claims.user_id)
    if user is None or user["role"] != claims.role:
        log.info("token_refused", reason="user inactive, deleted or role changed")
        raise UnauthorizedError(_INVALID)
    if user["token_version"] != claims.version:
        log.info("token_refused", reason="token revoked (password changed or deactivated)")
        raise UnauthorizedError(_INVALID)
    return Principal(
        user_id=user["user_id"], role=Role(user["role"]), email=user["email"], name=user["name"]
    )


def _bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(_MISSING)
    return token.strip()
