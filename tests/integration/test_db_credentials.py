"""A database credential change does not take the API down (many-instances review).

The app reads `DatabaseURL` from the Key Vault fake, as in Azure. The test server trusts every
local login, so a password is never checked here; a credential change is played with two
throwaway LOGIN roles instead: the vault's first URL names the old one, which then loses LOGIN
(new logins refused with SQLSTATE 28000, the family of 28P01 invalid_password, while sessions
opened before keep working, as after a password change), and the vault is given a URL naming the
new one. Each URL carries a password, which must never surface in a readiness detail.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn

from shared.db import get_database
from shared.errors import ServiceUnavailableError
from shared.health import CheckOutcome
from shared.health_checks import check_database
from tests.factories import cursor, make_guardian, make_patient
from tests.fakes.key_vault import FakeKeyVault
from tests.fixtures.app_server import ServedApp
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

OLD_PASSWORD = "old-db-password-9f3k2"
NEW_PASSWORD = "new-db-password-7h1q8"


@dataclass(frozen=True)
class Logins:
    old_role: str
    new_role: str
    old_url: str
    new_url: str


def _url_as(database_url: str, role: str, password: str) -> str:
    params = parse_dsn(database_url)
    params.update(user=role, password=password)
    return make_dsn(**params)


@pytest.fixture
def admin(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def logins(database_url: str, admin: psycopg2.extensions.connection) -> Iterator[Logins]:
    suffix = uuid.uuid4().hex[:10]
    old_role, new_role = f"cred_old_{suffix}", f"cred_new_{suffix}"
    with admin.cursor() as cur:
        for role, password in ((old_role, OLD_PASSWORD), (new_role, NEW_PASSWORD)):
            cur.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
    yield Logins(
        old_role,
        new_role,
        _url_as(database_url, old_role, OLD_PASSWORD),
        _url_as(database_url, new_role, NEW_PASSWORD),
    )
    with admin.cursor() as cur:
        for role in (old_role, new_role):
            cur.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def vault_app(
    app_env: dict[str, str],
    key_vault_env: dict[str, str],
    fake_key_vault: FakeKeyVault,
    logins: Logins,
    monkeypatch: pytest.MonkeyPatch,
) -> FakeKeyVault:
    """The in-process app reading DatabaseURL (the old login) from the vault; every borrow
    pings its connection, so a dropped one is replaced by a new login."""
    for name, value in key_vault_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DB_PREPING_IDLE_SECONDS", "0")
    fake_key_vault.set_secret("DatabaseURL", logins.old_url)
    return fake_key_vault


def current_user() -> str:
    with get_database().transaction() as cur:
        cur.execute("SELECT current_user AS name")
        row = cur.fetchone()
    assert row is not None
    return str(row["name"])


def refuse_new_logins(admin: psycopg2.extensions.connection, role: str) -> None:
    """Sessions already open stay; new logins are refused (28000)."""
    with admin.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))


def drop_sessions(admin: psycopg2.extensions.connection, role: str) -> None:
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = %s",
            (role,),
        )


def assert_database_down_for_authentication(outcome: CheckOutcome | None) -> str:
    assert outcome is not None
    assert outcome.status == "down"
    detail = outcome.detail or ""
    assert "authentication" in detail
    assert "not permitted to log in" in detail
    for password in (OLD_PASSWORD, NEW_PASSWORD):
        assert password not in detail
    return detail


def test_a_rotated_login_is_read_again_when_the_old_connections_drop(
    vault_app: FakeKeyVault, logins: Logins, admin: psycopg2.extensions.connection
):
    assert current_user() == logins.old_role
    assert vault_app.request_count("DatabaseURL") == 1

    # The rotation: the old login is refused from now on and the vault names the new one.
    refuse_new_logins(admin, logins.old_role)
    vault_app.set_secret("DatabaseURL", logins.new_url)
    # The open connection still works, so nothing is re-read yet.
    assert current_user() == logins.old_role
    assert vault_app.request_count("DatabaseURL") == 1

    drop_sessions(admin, logins.old_role)

    # Replacing the dead connection is refused: the secret is re-read and the borrow retried.
    assert current_user() == logins.new_role
    assert vault_app.request_count("DatabaseURL") == 2
    assert get_database().login_refused is None
    assert check_database() is None


def test_readiness_is_down_while_new_logins_are_refused_and_recovers_without_restart(
    vault_app: FakeKeyVault, logins: Logins, admin: psycopg2.extensions.connection
):
    database = get_database()
    assert current_user() == logins.old_role

    # The password changed in PostgreSQL, not yet in the vault.
    refuse_new_logins(admin, logins.old_role)

    # One request holds the surviving old connection; another needs a new one: refused even
    # after the secret is re-read (the vault still has the old value), so it is a 503.
    with database.connection(), pytest.raises(ServiceUnavailableError):
        current_user()
    assert vault_app.request_count("DatabaseURL") == 2
    assert database.login_refused is not None

    # The old connection answers ping(), yet the database is down: new logins are refused.
    detail = assert_database_down_for_authentication(check_database())
    assert logins.old_role in detail

    # The vault is fixed: the next request logs in with the new value, without a restart.
    vault_app.set_secret("DatabaseURL", logins.new_url)
    time.sleep(database.credentials_refresh_interval + 0.1)
    drop_sessions(admin, logins.old_role)
    assert current_user() == logins.new_role
    assert database.login_refused is None
    assert check_database() is None


def test_readiness_reads_the_fixed_secret_itself(
    vault_app: FakeKeyVault, logins: Logins, admin: psycopg2.extensions.connection
):
    """No request needs to come first: the readiness probe's own login re-reads the secret."""
    database = get_database()
    assert current_user() == logins.old_role
    refuse_new_logins(admin, logins.old_role)
    drop_sessions(admin, logins.old_role)

    with pytest.raises(ServiceUnavailableError):
        current_user()
    assert_database_down_for_authentication(check_database())

    vault_app.set_secret("DatabaseURL", logins.new_url)
    time.sleep(database.credentials_refresh_interval + 0.1)

    assert check_database() is None
    assert database.login_refused is None
    assert current_user() == logins.new_role


def test_a_login_refused_on_every_request_reads_the_vault_at_most_once_a_second(
    vault_app: FakeKeyVault, logins: Logins, admin: psycopg2.extensions.connection
):
    assert current_user() == logins.old_role
    refuse_new_logins(admin, logins.old_role)
    drop_sessions(admin, logins.old_role)

    for _ in range(5):
        with pytest.raises(ServiceUnavailableError):
            current_user()

    # The first read, then one re-read for the first refusal; the rest are refused at once.
    assert vault_app.request_count("DatabaseURL") == 2


def test_a_missing_database_is_not_taken_for_a_refused_login(
    vault_app: FakeKeyVault, logins: Logins, database_url: str
):
    params = parse_dsn(database_url)
    params["dbname"] = f"missing_{uuid.uuid4().hex[:8]}"
    vault_app.set_secret("DatabaseURL", make_dsn(**params))

    with pytest.raises(ServiceUnavailableError):
        current_user()

    assert get_database().login_refused is None
    assert vault_app.request_count("DatabaseURL") == 1
    with pytest.raises(ServiceUnavailableError):  # down, but not for authentication
        check_database()


def test_the_served_app_recovers_from_a_credential_change_without_a_restart(
    start_app_server: Callable[..., ServedApp],
    key_vault_env: dict[str, str],
    fake_key_vault: FakeKeyVault,
    logins: Logins,
    admin: psycopg2.extensions.connection,
    database_url: str,
):
    """Over HTTP, as in Azure: the app's login (in the app's group role) is rotated; while the
    vault still names the refused one, requests and readiness are 503; once the vault is fixed
    the same process serves again."""
    with admin.cursor() as cur:
        for role in (logins.old_role, logins.new_role):
            cur.execute(sql.SQL("GRANT neulbomcare_app TO {}").format(sql.Identifier(role)))
    with cursor(database_url) as cur:
        owner = make_guardian(cur)
        patient_id = make_patient(cur, owner)
    fake_key_vault.set_secret("DatabaseURL", logins.old_url)
    app = start_app_server(**key_vault_env, DB_PREPING_IDLE_SECONDS="0")
    patient = f"api/patients/{patient_id}"
    assert app.get(patient, headers=owner.headers).status_code == 200

    refuse_new_logins(admin, logins.old_role)
    drop_sessions(admin, logins.old_role)

    assert_problem(app.get(patient, headers=owner.headers), 503, "unavailable")
    ready = app.get("health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unhealthy"

    fake_key_vault.set_secret("DatabaseURL", logins.new_url)
    deadline = time.monotonic() + 15
    while (answer := app.get(patient, headers=owner.headers)).status_code == 503:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.3)
    assert answer.status_code == 200
    assert app.get("health/ready").status_code == 200
    logs = app.logs()
    assert "db_login_refused" in logs
    for password in (OLD_PASSWORD, NEW_PASSWORD):
        assert password not in logs
