"""Access tokens die with the password they were issued under: `set-password` and deactivation
move the account's token version on, and authentication refuses a token of another version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.auth import users_repository
from shared.auth.authentication import authenticate_bearer
from shared.auth.tokens import decode_token, issue_token
from shared.config import DEVELOPMENT_JWT_SECRET
from shared.errors import UnauthorizedError
from shared.unit_of_work import UnitOfWork
from tests.factories import PASSWORD, cursor, make_user
from tests.manage_cli import run_manage, service_env
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def forget_local_failures(database_url):
    """The served app sees every test as 127.0.0.1: forget earlier tests' failed sign-ins from
    there, so the per-address ceiling counts only this test's."""
    with cursor(database_url) as cur:
        cur.execute("DELETE FROM login_attempts WHERE client_ip = '127.0.0.1'")


NEW_PASSWORD = "a-brand-new-password-7"


def sign_in(app_server, email: str, password: str) -> str:
    response = app_server.request(
        "POST", "api/auth/login", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def me(app_server, token: str):
    return app_server.get("api/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_set_password_revokes_the_tokens_issued_before(app_server, database_url, azurite):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian", with_password=True)
    old_token = sign_in(app_server, user.email, PASSWORD)
    assert me(app_server, old_token).status_code == 200

    env = service_env(database_url, azurite, APP_ENV="development")
    result = run_manage("set-password", user.email, env=env, stdin=NEW_PASSWORD + "\n")
    assert result.returncode == 0, result.stderr

    assert_problem(me(app_server, old_token), 401, "unauthorized")
    assert_problem(me(app_server, user.token), 401, "unauthorized")  # the factory's too
    new_token = sign_in(app_server, user.email, NEW_PASSWORD)
    assert me(app_server, new_token).json()["user_id"] == user.user_id
    assert decode_token(new_token).version == 1


def test_deactivation_revokes_tokens_for_good(app_server, app_env, database_url):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian", with_password=True)
    token = sign_in(app_server, user.email, PASSWORD)

    with UnitOfWork.for_job() as uow:
        assert users_repository.deactivate(uow.cursor, user.user_id)
    assert_problem(me(app_server, token), 401, "unauthorized")

    with cursor(database_url) as cur:  # reactivated: the old token stays dead, a new one works
        cur.execute("UPDATE users SET is_active = true WHERE user_id = %s", (user.user_id,))
    assert_problem(me(app_server, token), 401, "unauthorized")
    assert me(app_server, sign_in(app_server, user.email, PASSWORD)).status_code == 200


def _signed(claims: dict) -> str:
    now = datetime.now(UTC)
    return jwt.encode(
        {"iat": now, "exp": now + timedelta(hours=1), **claims},
        DEVELOPMENT_JWT_SECRET,
        algorithm="HS256",
    )


def test_a_token_without_ver_is_version_zero(app_env, database_url):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian")
    unversioned = _signed({"sub": str(user.user_id), "role": "guardian"})
    assert authenticate_bearer(f"Bearer {unversioned}").user_id == user.user_id

    with cursor(database_url) as cur:
        cur.execute("UPDATE users SET token_version = 1 WHERE user_id = %s", (user.user_id,))
    with pytest.raises(UnauthorizedError):
        authenticate_bearer(f"Bearer {unversioned}")
    current, _ = issue_token(user.user_id, "guardian", version=1)
    assert authenticate_bearer(f"Bearer {current}").user_id == user.user_id


@pytest.mark.parametrize("ver", [2, -1, "0", True, 1.5, None])
def test_a_token_of_another_or_a_malformed_version_is_refused(app_env, database_url, ver):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian")
        cur.execute("UPDATE users SET token_version = 1 WHERE user_id = %s", (user.user_id,))
    token = _signed({"sub": str(user.user_id), "role": "guardian", "ver": ver})
    with pytest.raises(UnauthorizedError):
        authenticate_bearer(f"Bearer {token}")
