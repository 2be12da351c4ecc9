"""Microsoft Entra authentication for PostgreSQL with the managed identity (DATABASE_AUTH=entra).

The shared test server trusts every local login, so a password is never checked there. These
tests run a PostgreSQL of their own (pgserver's binaries, a Unix socket in a temporary folder)
whose pg_hba.conf checks passwords (scram-sha-256) for every role but the owner. The app's role
`entra_app` (in `neulbomcare_app`, as `manage.py db-roles` makes it) has as its password the
token the managed identity fake currently hands out for the ossrdbms resource: the fake calls
back before it hands out a new token, and the role's password becomes that token. That is
stricter than Entra, where every unexpired token is accepted: here an older token is refused as
soon as a newer one exists.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn

from devtools.database import create_database, migrate, with_database
from shared.db import get_database
from shared.db_credentials import ENTRA_SCOPE
from shared.errors import ServiceUnavailableError
from tests.factories import cursor, make_guardian, make_patient
from tests.fakes.key_vault import FakeKeyVault
from tests.fakes.managed_identity import FakeManagedIdentity
from tests.fixtures.app_server import ServedApp

pytestmark = pytest.mark.integration

#: What the app asks the managed identity endpoint for (the scope without `/.default`).
RESOURCE = ENTRA_SCOPE.removesuffix("/.default")
ROLE = "entra_app"
DATABASE = "neulbomcare_entra"


@dataclass
class PasswordCheckingServer:
    """A private PostgreSQL that checks the app role's password; `owner_url` logs in as its
    superuser (trusted), `app_url` is the app's DatabaseURL: no user, no password."""

    owner_url: str
    app_url: str
    tokens: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_password(self, token: str) -> None:
        """The fake's on_issue callback: the role's password becomes the new token."""
        with self._lock, psycopg2.connect(self.owner_url) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(ROLE)), (token,))
        conn.close()
        self.tokens.append(token)

    def backends(self) -> set[int]:
        """Process ids of the app role's sessions."""
        with psycopg2.connect(self.owner_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE usename = %s", (ROLE,))
            pids = {int(row[0]) for row in cur.fetchall()}
        conn.close()
        return pids

    def terminate_backends(self) -> int:
        with psycopg2.connect(self.owner_url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE usename = %s",
                (ROLE,),
            )
            row = cur.fetchone()
        conn.close()
        return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def password_server() -> Iterator[PasswordCheckingServer]:
    from pgserver.postgres_server import get_server

    pgdata = Path(tempfile.mkdtemp(prefix="entra-pg-")) / "pgdata"
    server = get_server(pgdata, cleanup_mode="delete")
    try:
        maintenance = server.get_uri("postgres")
        create_database(maintenance, DATABASE)
        owner_url = with_database(maintenance, DATABASE)
        migrate(owner_url)
        with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(ROLE)))
            cur.execute(sql.SQL("GRANT neulbomcare_app TO {}").format(sql.Identifier(ROLE)))
            (pgdata / "pg_hba.conf").write_text(
                "local all postgres trust\nlocal all all scram-sha-256\n", encoding="utf-8"
            )
            cur.execute("SELECT pg_reload_conf()")
        conn.close()
        params = parse_dsn(owner_url)
        app_url = make_dsn(dbname=params["dbname"], host=params["host"])
        yield PasswordCheckingServer(owner_url, app_url)
    finally:
        server.cleanup()


@pytest.fixture
def entra_identity(
    fake_managed_identity: FakeManagedIdentity, password_server: PasswordCheckingServer
) -> Iterator[Callable[[int], None]]:
    """`pin(lifetime)`: the fake hands out one current ossrdbms token at a time, each of which
    becomes the role's password; unpinned after the test."""

    def pin(lifetime: int) -> None:
        fake_managed_identity.pin(RESOURCE, lifetime, on_issue=password_server.set_password)

    yield pin
    fake_managed_identity.unpin(RESOURCE)
    password_server.terminate_backends()


@pytest.fixture
def entra_in_process(
    app_env: dict[str, str],
    fake_managed_identity: FakeManagedIdentity,
    password_server: PasswordCheckingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The in-process app logging in with Entra tokens of the fake managed identity."""
    for name, value in {
        **fake_managed_identity.env(),
        "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential",
        "DATABASE_URL": password_server.app_url,
        "DATABASE_AUTH": "entra",
        "DATABASE_ENTRA_USER": ROLE,
        "DB_PREPING_IDLE_SECONDS": "0",  # a terminated session is found on the next borrow
    }.items():
        monkeypatch.setenv(name, value)


def backend() -> tuple[int, str]:
    """The serving connection's process id and login."""
    with get_database().transaction() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid, current_user AS name")
        row = cur.fetchone()
    assert row is not None
    return int(row["pid"]), str(row["name"])


def test_the_app_logs_in_with_the_identitys_token_and_keeps_it_until_it_is_due(
    entra_in_process: None,
    entra_identity: Callable[[int], None],
    fake_managed_identity: FakeManagedIdentity,
    password_server: PasswordCheckingServer,
):
    entra_identity(3600)
    pid, user = backend()

    assert user == ROLE
    assert fake_managed_identity.issued_for(RESOURCE) == 1
    token = fake_managed_identity.current_token(RESOURCE)
    assert token is not None
    info = fake_managed_identity.token_info(token)
    assert info is not None
    login = get_database().credentials.current()
    # Renewed five minutes before it expires; the connection is recycled then too.
    assert login.renew_at is not None
    assert info.expires_on - 301 <= login.renew_at <= info.expires_on - 299
    assert token not in repr(login)
    # More work reuses the connection and the token: no second request to the endpoint.
    for _ in range(5):
        assert backend() == (pid, ROLE)
    assert fake_managed_identity.requests_for(RESOURCE) == 1


def test_tokens_are_renewed_before_they_expire_and_older_connections_recycled(
    entra_in_process: None,
    entra_identity: Callable[[int], None],
    fake_managed_identity: FakeManagedIdentity,
    password_server: PasswordCheckingServer,
):
    entra_identity(8)  # renewed half-way: four seconds before it expires
    first_pid, _ = backend()
    first = fake_managed_identity.token_info(fake_managed_identity.current_token(RESOURCE) or "")
    assert first is not None
    login = get_database().credentials.current()
    assert login.renew_at is not None
    assert first.expires_on - 4.5 <= login.renew_at <= first.expires_on - 3.5

    # Until then the connection serves on.
    assert backend()[0] == first_pid
    assert fake_managed_identity.issued_for(RESOURCE) == 1

    time.sleep(max(login.renew_at - time.time(), 0) + 0.2)
    second_pid, user = backend()

    # A new token, asked for before the first one expired; the connection made with the first
    # was closed rather than reused, and its session is gone.
    assert user == ROLE
    assert fake_managed_identity.issued_for(RESOURCE) == 2
    second = fake_managed_identity.token_info(fake_managed_identity.current_token(RESOURCE) or "")
    assert second is not None
    assert second.issued_at < first.expires_on
    assert second_pid != first_pid
    assert first_pid not in password_server.backends()
    assert time.time() < first.expires_on


def test_a_refused_token_is_replaced_from_the_endpoint_past_the_identity_cache(
    entra_in_process: None,
    entra_identity: Callable[[int], None],
    fake_managed_identity: FakeManagedIdentity,
    password_server: PasswordCheckingServer,
):
    """The identity library would hand back its cached (still unexpired) token: a refused login
    asks the endpoint itself, once, and connects with what it answers."""
    entra_identity(3600)
    first_pid, _ = backend()
    fake_managed_identity.rotate(RESOURCE)
    password_server.terminate_backends()

    pid, user = backend()

    assert user == ROLE
    assert pid != first_pid
    assert fake_managed_identity.requests_for(RESOURCE) == 2
    assert get_database().login_refused is None


def test_an_unreachable_identity_endpoint_is_a_503_not_a_500(
    entra_in_process: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token")  # discard: refused
    started = time.monotonic()

    with pytest.raises(ServiceUnavailableError) as raised:
        get_database().ping()

    assert raised.value.retry_after is not None
    assert time.monotonic() - started < 30


def test_the_served_app_rides_out_a_token_rotation_under_traffic(
    start_app_server: Callable[..., ServedApp],
    key_vault_env: dict[str, str],
    fake_key_vault: FakeKeyVault,
    entra_identity: Callable[[int], None],
    fake_managed_identity: FakeManagedIdentity,
    password_server: PasswordCheckingServer,
):
    """Over HTTP, as in Azure: DatabaseURL (no password) from the Key Vault fake, the token
    from the managed identity fake. Mid-traffic the identity's token is rotated, the role's
    password follows and every session of the old token is terminated: requests keep being
    answered (the refused login asks for a new token and retries), none with a 5xx, and no
    token reaches the log."""
    entra_identity(3600)
    with cursor(password_server.owner_url) as cur:
        owner = make_guardian(cur)
        patient_id = make_patient(cur, owner)
    fake_key_vault.set_secret("DatabaseURL", password_server.app_url)
    app = start_app_server(
        **key_vault_env,
        DATABASE_AUTH="entra",
        DATABASE_ENTRA_USER=ROLE,
        DB_PREPING_IDLE_SECONDS="0",
    )
    patient = f"api/patients/{patient_id}"
    assert app.get(patient, headers=owner.headers).status_code == 200
    assert fake_managed_identity.issued_for(RESOURCE) == 1

    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            statuses.append(app.get(patient, headers=owner.headers).status_code)

    clients = [threading.Thread(target=traffic) for _ in range(3)]
    for client in clients:
        client.start()
    try:
        time.sleep(1.0)
        before = len(statuses)
        fake_managed_identity.rotate(RESOURCE)
        assert password_server.terminate_backends() >= 1
        time.sleep(2.0)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)

    assert before > 0
    assert len(statuses) > before + 3, "traffic stalled after the rotation"
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) == {200}
    # The app asked the endpoint again for the rotated token (past its cache).
    assert fake_managed_identity.requests_for(RESOURCE) >= 2
    ready = app.get("health/ready")
    assert ready.status_code == 200, ready.text  # the database is critical: down would be 503
    assert ready.json()["status"] != "unhealthy"
    logs = app.logs()
    assert "db_auth_failed_refreshing_credentials" in logs
    assert len(password_server.tokens) >= 2
    for token in password_server.tokens:
        assert token not in logs
