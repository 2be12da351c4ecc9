"""Access tokens end to end: issued by shared.auth.tokens, checked by authenticate_bearer
against the real database. Every way a token can be untrustworthy answers 401."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.auth.authentication import authenticate_bearer
from shared.auth.tokens import decode_token, issue_token
from shared.config import DEVELOPMENT_JWT_SECRET
from shared.errors import UnauthorizedError
from tests.factories import cursor, make_user

pytestmark = pytest.mark.integration


@pytest.fixture
def guardian(app_env, database_url):
    with cursor(database_url) as cur:
        return make_user(cur, "guardian")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user_id: int, role: str = "guardian", **overrides) -> dict:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + timedelta(hours=1)}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _refused(header: str | None) -> str:
    with pytest.raises(UnauthorizedError) as caught:
        authenticate_bearer(header)
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"] == "Bearer"
    return caught.value.detail


def test_issued_token_authenticates_its_user(guardian):
    token, lifetime = issue_token(guardian.user_id, "guardian")
    principal = authenticate_bearer(f"Bearer {token}")
    assert (principal.user_id, principal.role, principal.email) == (
        guardian.user_id,
        "guardian",
        guardian.email,
    )
    claims = decode_token(token)
    assert lifetime == 12 * 3600
    assert claims.expires_at - claims.issued_at == timedelta(hours=12)


def test_lifetime_comes_from_settings(guardian, monkeypatch):
    from shared.config import reset_settings

    monkeypatch.setenv("JWT_LIFETIME_HOURS", "2")
    reset_settings()
    token, lifetime = issue_token(guardian.user_id, "guardian")
    assert lifetime == 7200
    assert (
        jwt.decode(token, options={"verify_signature": False})["exp"]
        - jwt.decode(token, options={"verify_signature": False})["iat"]
        == 7200
    )


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "xyz"])
def test_missing_or_malformed_header_is_refused(guardian, header):
    assert "Bearer" in _refused(header)


def test_wrong_key_is_refused(guardian):
    forged = jwt.encode(_claims(guardian.user_id), "not-the-secret-" * 3, algorithm="HS256")
    _refused(f"Bearer {forged}")


def test_alg_none_is_refused(guardian):
    claims = _claims(guardian.user_id)
    claims["iat"], claims["exp"] = int(claims["iat"].timestamp()), int(claims["exp"].timestamp())
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    _refused(f"Bearer {unsigned}")
    with pytest.raises(jwt.InvalidTokenError):  # the library agrees it is not HS256
        jwt.decode(unsigned, DEVELOPMENT_JWT_SECRET, algorithms=["HS256"])


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_algorithm_with_the_right_key_is_refused(guardian):
    token = jwt.encode(_claims(guardian.user_id), DEVELOPMENT_JWT_SECRET, algorithm="HS512")
    _refused(f"Bearer {token}")


def test_expired_token_is_refused(guardian):
    past = datetime.now(UTC) - timedelta(hours=2)
    token = jwt.encode(
        _claims(guardian.user_id, iat=past, exp=past + timedelta(hours=1)),
        DEVELOPMENT_JWT_SECRET,
        algorithm="HS256",
    )
    _refused(f"Bearer {token}")


@pytest.mark.parametrize("missing", ["sub", "role", "iat", "exp"])
def test_token_without_a_required_claim_is_refused(guardian, missing):
    claims = _claims(guardian.user_id)
    claims.pop(missing)
    _refused(f"Bearer {jwt.encode(claims, DEVELOPMENT_JWT_SECRET, algorithm='HS256')}")


def test_tampered_payload_is_refused(guardian):
    token, _ = issue_token(guardian.user_id, "guardian")
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["role"] = "admin"
    _refused(f"Bearer {header}.{_b64(claims)}.{signature}")


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE users SET deleted_at = now() WHERE user_id = %s",
        "UPDATE users SET is_active = false WHERE user_id = %s",
        "UPDATE users SET role = 'caregiver' WHERE user_id = %s",
        "DELETE FROM users WHERE user_id = %s",
    ],
    ids=["deleted", "deactivated", "role-changed", "removed"],
)
def test_token_of_a_user_who_may_no_longer_act_is_refused(guardian, database_url, change):
    token, _ = issue_token(guardian.user_id, "guardian")
    assert authenticate_bearer(f"Bearer {token}").user_id == guardian.user_id
    with cursor(database_url) as cur:
        cur.execute(change, (guardian.user_id,))
    _refused(f"Bearer {token}")


def test_rotating_the_secret_invalidates_old_tokens(
    guardian, key_vault_env, fake_key_vault, monkeypatch
):
    for name, value in key_vault_env.items():
        monkeypatch.setenv(name, value)
    fake_key_vault.set_secret("JwtSecret", "first-signing-key-" + "a" * 32)
    old_token, _ = issue_token(guardian.user_id, "guardian")
    assert authenticate_bearer(f"Bearer {old_token}").user_id == guardian.user_id

    # A sibling instance already signs with the rotated key: this instance re-reads the vault
    # on the first signature mismatch and accepts it ...
    fake_key_vault.set_secret("JwtSecret", "second-signing-key-" + "b" * 32)
    new_token = jwt.encode(
        _claims(guardian.user_id), "second-signing-key-" + "b" * 32, algorithm="HS256"
    )
    assert authenticate_bearer(f"Bearer {new_token}").user_id == guardian.user_id
    # ... and from then on tokens signed with the old key are refused.
    _refused(f"Bearer {old_token}")
    assert fake_key_vault.request_count("JwtSecret") == 2


def test_forged_tokens_cannot_make_the_app_hammer_key_vault(
    guardian, key_vault_env, fake_key_vault, monkeypatch
):
    for name, value in key_vault_env.items():
        monkeypatch.setenv(name, value)
    fake_key_vault.set_secret("JwtSecret", "vault-signing-key-" + "c" * 32)
    forged = jwt.encode(_claims(guardian.user_id), "attacker-key-" + "d" * 32, algorithm="HS256")
    for _ in range(5):
        _refused(f"Bearer {forged}")
    # One read to sign in the first place, one re-read after the first mismatch, then none.
    assert fake_key_vault.request_count("JwtSecret") == 2
