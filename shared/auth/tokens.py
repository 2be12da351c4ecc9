"""Access tokens: JWT, HS256, signed with the `JwtSecret` secret.

Only HS256 is accepted when decoding, so a token claiming `alg: none` or an asymmetric
algorithm is refused before its signature is even looked at. `sub`, `role`, `iat` and `exp` are
required. `ver` is the account's token version when the token was issued (missing counts as 0,
as in tokens issued before versions existed): authentication refuses a token whose version is no
longer the account's, which revokes every token at a password change or deactivation.

Rotating `JwtSecret` invalidates every token signed with the old value: after a signature
failure the secret is re-read (at most once a minute, so forged tokens cannot hammer Key Vault),
which also lets this instance accept tokens that a rotated sibling signed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import get_settings
from shared.secrets import get_secrets

ALGORITHM = "HS256"
SECRET_NAME = "JwtSecret"  # noqa: S105  (the name, not the value)
_REQUIRED_CLAIMS = ["sub", "role", "iat", "exp"]
_REFRESH_INTERVAL_S = 60.0
_refresh_lock = threading.Lock()
_last_refresh = 0.0


class InvalidTokenError(Exception):
    """The token cannot be trusted (any reason); the message is for logs, not callers."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    issued_at: datetime
    expires_at: datetime
    version: int = 0


def issue_token(
    user_id: int, role: str, *, version: int = 0, now: datetime | None = None
) -> tuple[str, int]:
    """A signed access token for the user (at its token `version`) and its lifetime in seconds."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    lifetime = int(timedelta(hours=get_settings().jwt_lifetime_hours).total_seconds())
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": issued,
        "exp": issued + timedelta(seconds=lifetime),
        "ver": version,
    }
    import jwt  # here, not at module import: PyJWT loads cryptography (a cold-start cost)

    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM), lifetime


def decode_token(token: str) -> TokenClaims:
    """The claims of a valid token; InvalidTokenError for anything else."""
    import jwt

    try:
        claims = _decode(token, _signing_key())
    except jwt.InvalidSignatureError:
        key = _reread_key()
        if key is None:
            raise InvalidTokenError("signature mismatch") from None
        try:
            claims = _decode(token, key)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(type(exc).__name__) from None
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(type(exc).__name__) from None
    subject, role = claims["sub"], claims["role"]
    if not (isinstance(subject, str) and subject.isdigit() and isinstance(role, str)):
        raise InvalidTokenError("malformed sub or role claim")
    version = claims.get("ver", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidTokenError("malformed ver claim")
    return TokenClaims(
        user_id=int(subject),
        role=role,
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        version=version,
    )


def _decode(token: str, key: str) -> dict[str, Any]:
    import jwt

    return jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        options={"require": _REQUIRED_CLAIMS, "verify_iat": True},
        leeway=5,
    )


def _signing_key() -> str:
    return get_secrets().get(SECRET_NAME)


def _reread_key() -> str | None:
    """The secret read afresh, or None when it was re-read less than a minute ago."""
    global _last_refresh  # noqa: PLW0603  (one timestamp per process)
    with _refresh_lock:
        now = time.monotonic()
        if now - _last_refresh < _REFRESH_INTERVAL_S:
            return None
        _last_refresh = now
    secrets = get_secrets()
    secrets.invalidate(SECRET_NAME)
    return secrets.get(SECRET_NAME)


def reset_key_refresh() -> None:
    """Forget when the key was last re-read (tests start each case afresh)."""
    global _last_refresh  # noqa: PLW0603
    _last_refresh = 0.0
