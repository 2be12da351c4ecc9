"""shared.db against a real PostgreSQL: transactions, dead connections, exhaustion, timeouts.

Each test points DATABASE_URL at the session's test database and gets a fresh pool (the autouse
fixture resets the singletons). Rows are checked through a separate, plain psycopg2 connection,
so "committed" means another session really sees it.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Protocol, TypeVar

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from shared.db import get_database
from shared.errors import ServiceUnavailableError

pytestmark = pytest.mark.integration


@pytest.fixture
def db_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def admin(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    """An autocommit connection outside the pool: the observer, and the one that kills."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def probe_table(admin: psycopg2.extensions.connection) -> Iterator[sql.Identifier]:
    """A real (not temporary) table, so other sessions see its rows and read-only applies."""
    table = sql.Identifier(f"pool_probe_{uuid.uuid4().hex[:12]}")
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {} (label text PRIMARY KEY)").format(table))
    yield table
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))


def labels(admin: psycopg2.extensions.connection, table: sql.Identifier) -> set[str]:
    with admin.cursor() as cur:
        cur.execute(sql.SQL("SELECT label FROM {}").format(table))
        return {row[0] for row in cur.fetchall()}


_Row_co = TypeVar("_Row_co", covariant=True)


class _FetchesRows(Protocol[_Row_co]):
    def fetchone(self) -> _Row_co | None: ...


def one(cur: _FetchesRows[_Row_co]) -> _Row_co:
    """The row a statement that always answers one row answered."""
    row = cur.fetchone()
    assert row is not None
    return row


def insert(table: sql.Identifier) -> sql.Composed:
    return sql.SQL("INSERT INTO {} (label) VALUES (%s)").format(table)


def backend_pid() -> int:
    with get_database().transaction() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        return one(cur)["pid"]


def terminate(admin: psycopg2.extensions.connection, pid: int) -> None:
    """Kill a backend and wait until the server has really let it go."""
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert one(cur)[0] is True
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            if one(cur)[0] == 0:
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} did not exit")


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- transactions ------------------------------------------------------------------------------


def test_transaction_commits_on_success(db_env, admin, probe_table):
    with get_database().transaction() as cur:
        cur.execute(insert(probe_table), ("committed",))
        cur.execute(sql.SQL("SELECT label FROM {}").format(probe_table))
        assert cur.fetchall() == [{"label": "committed"}]  # rows come back as dicts

    assert labels(admin, probe_table) == {"committed"}


def test_transaction_rolls_back_on_exception(db_env, admin, probe_table):
    class Boom(Exception):
        pass

    def insert_two_then_fail() -> None:
        with get_database().transaction() as cur:
            cur.execute(insert(probe_table), ("first",))
            cur.execute(insert(probe_table), ("second",))
            raise Boom

    with pytest.raises(Boom):
        insert_two_then_fail()

    assert labels(admin, probe_table) == set()


def test_transaction_rolls_back_on_a_database_error(db_env, admin, probe_table):
    db = get_database()

    def insert_twice() -> None:
        with db.transaction() as cur:
            cur.execute(insert(probe_table), ("dup",))
            cur.execute(insert(probe_table), ("dup",))

    with pytest.raises(psycopg2.errors.UniqueViolation):
        insert_twice()

    assert labels(admin, probe_table) == set()
    # The connection is usable again afterwards.
    with db.transaction() as cur:
        cur.execute(insert(probe_table), ("after",))
    assert labels(admin, probe_table) == {"after"}


def test_uncommitted_work_on_a_borrowed_connection_is_rolled_back(db_env, admin, probe_table):
    with get_database().connection() as conn, conn.cursor() as cur:
        cur.execute(insert(probe_table), ("never-committed",))

    assert labels(admin, probe_table) == set()


def test_readonly_transaction_refuses_writes(db_env, admin, probe_table):
    db = get_database()
    with (
        pytest.raises(psycopg2.errors.ReadOnlySqlTransaction),
        db.transaction(readonly=True) as cur,
    ):
        cur.execute(insert(probe_table), ("sneaky",))

    assert labels(admin, probe_table) == set()


def test_readonly_does_not_stick_to_the_pooled_connection(
    db_env, admin, probe_table, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_POOL_MAX", "1")  # the same connection serves both transactions
    db = get_database()
    with db.transaction(readonly=True) as cur:
        cur.execute("SHOW transaction_read_only")
        assert one(cur)["transaction_read_only"] == "on"

    with db.transaction() as cur:
        cur.execute("SHOW transaction_read_only")
        assert one(cur)["transaction_read_only"] == "off"
        cur.execute(insert(probe_table), ("writable-again",))

    assert labels(admin, probe_table) == {"writable-again"}


def test_isolation_level_applies_to_one_transaction(db_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DB_POOL_MAX", "1")
    db = get_database()
    with db.transaction(isolation="SERIALIZABLE") as cur:
        cur.execute("SHOW transaction_isolation")
        assert one(cur)["transaction_isolation"] == "serializable"

    with db.transaction() as cur:
        cur.execute("SHOW transaction_isolation")
        assert one(cur)["transaction_isolation"] == "read committed"


# -- dead connections ----------------------------------------------------------------------------


def test_connection_killed_server_side_is_replaced_on_next_borrow(
    db_env, admin, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_PREPING_IDLE_SECONDS", "0")
    monkeypatch.setenv("DB_POOL_MAX", "1")  # so the next borrow would get the killed one
    first_pid = backend_pid()

    terminate(admin, first_pid)

    second_pid = backend_pid()  # no error reaches the caller
    assert second_pid != first_pid
    assert backend_pid() == second_pid  # and the replacement is pooled, not reconnected


def test_without_preping_a_killed_connection_fails_once_then_is_discarded(
    db_env, admin, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_PREPING_IDLE_SECONDS", "3600")
    monkeypatch.setenv("DB_POOL_MAX", "1")
    first_pid = backend_pid()
    terminate(admin, first_pid)

    with pytest.raises(psycopg2.OperationalError):
        backend_pid()

    assert backend_pid() != first_pid


def test_connection_that_died_while_borrowed_is_not_pooled_again(
    db_env, admin, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_PREPING_IDLE_SECONDS", "3600")  # no pre-ping to hide a pooled corpse
    monkeypatch.setenv("DB_POOL_MAX", "1")
    with get_database().connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")  # leaves a transaction open
        first_pid = one(cur)[0]
        terminate(admin, first_pid)
    # Giving it back tried to roll back, failed, and closed it instead of pooling it.

    assert backend_pid() != first_pid


# -- exhaustion and outages ----------------------------------------------------------------------


def test_pool_exhaustion_raises_service_unavailable_after_the_wait(
    db_env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_POOL_MAX", "1")
    monkeypatch.setenv("DB_POOL_WAIT_SECONDS", "0.2")
    db = get_database()

    with db.connection():
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as caught, db.connection():
            pass
        waited = time.monotonic() - started

    assert caught.value.status == 503
    assert caught.value.retry_after >= 1
    assert caught.value.headers["Retry-After"] == str(caught.value.retry_after)
    assert 0.18 <= waited < 2
    db.ping()  # the slot was given back


def test_a_waiting_borrower_gets_the_connection_when_it_is_returned(
    db_env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_POOL_MAX", "1")
    monkeypatch.setenv("DB_POOL_WAIT_SECONDS", "5")
    db = get_database()
    holder_has_it = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with db.connection():
            holder_has_it.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holder_has_it.wait(5)
    threading.Timer(0.2, release.set).start()

    started = time.monotonic()
    db.ping()
    waited = time.monotonic() - started
    holder.join(5)

    assert 0.1 <= waited < 5


def test_unreachable_database_raises_service_unavailable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/nope")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "1")
    db = get_database()

    with pytest.raises(ServiceUnavailableError) as caught, db.transaction():
        pass
    assert isinstance(caught.value.__cause__, psycopg2.OperationalError)
    assert caught.value.status == 503

    with pytest.raises(ServiceUnavailableError) as pinged:
        get_database().ping()
    assert pinged.value.retry_after >= 1


def test_ping_succeeds_against_a_live_database(db_env):
    get_database().ping()

    assert get_database() is get_database()


# -- statement timeout ---------------------------------------------------------------------------


def test_statement_timeout_from_settings_cancels_slow_queries(
    db_env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "200")
    db = get_database()
    with db.transaction() as cur:
        cur.execute("SHOW statement_timeout")
        assert one(cur)["statement_timeout"] == "200ms"

    started = time.monotonic()
    with pytest.raises(psycopg2.errors.QueryCanceled), db.transaction() as cur:
        cur.execute("SELECT pg_sleep(2)")
    assert time.monotonic() - started < 1.5

    db.ping()  # the pool still serves after a cancelled statement


# -- returned connections are kept ---------------------------------------------------------------


@pytest.fixture
def own_db_env(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The pool on a database of this test's own, so pg_stat_activity counts only its backends."""
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    return empty_database_url


def app_backends(admin_url: str) -> set[int]:
    """The pids of the pool's backends (application_name neulbomcare) on that database."""
    with psycopg2.connect(admin_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'neulbomcare'"
        )
        pids = {row[0] for row in cur.fetchall()}
    conn.close()
    return pids


def overlapping_pids(borrowers: int) -> set[int]:
    """`borrowers` threads each hold a connection at the same moment; their backend pids."""
    db = get_database()
    all_holding = threading.Barrier(borrowers, timeout=10)
    pids: list[int] = []
    errors: list[BaseException] = []

    def borrow() -> None:
        try:
            with db.transaction() as cur:
                cur.execute("SELECT pg_backend_pid() AS pid")
                pids.append(one(cur)["pid"])
                all_holding.wait()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=borrow) for _ in range(borrowers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert not errors, errors
    assert len(pids) == borrowers
    return set(pids)


def test_sequential_borrows_reuse_one_backend(own_db_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DB_POOL_MAX", "4")
    pids = {backend_pid() for _ in range(20)}

    assert len(pids) == 1
    assert app_backends(own_db_env) == pids  # the server saw one connection, not 20


def test_connections_returned_after_overlapping_borrows_are_kept_and_reused(
    own_db_env, monkeypatch: pytest.MonkeyPatch
):
    # psycopg2's pool (DB_POOL_MIN 1) closed three of these four as they came back, so every
    # burst of overlapping requests opened new connections (a TLS handshake each in Azure).
    monkeypatch.setenv("DB_POOL_MIN", "1")
    monkeypatch.setenv("DB_POOL_MAX", "4")
    first = overlapping_pids(4)

    assert len(first) == 4
    assert get_database().idle_count() == 4
    assert app_backends(own_db_env) == first  # still open on the server while idle

    second = overlapping_pids(4)
    assert second == first  # the same four backends served the next burst
    assert app_backends(own_db_env) == first


def test_the_pool_never_opens_more_than_db_pool_max(own_db_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DB_POOL_MAX", "3")
    monkeypatch.setenv("DB_POOL_WAIT_SECONDS", "10")
    db = get_database()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                with db.transaction() as cur:
                    cur.execute("SELECT pg_sleep(0.005)")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    assert 1 <= db.idle_count() <= 3
    assert 1 <= len(app_backends(own_db_env)) <= 3


def test_idle_connections_beyond_the_minimum_are_closed_after_the_idle_limit(
    own_db_env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_POOL_MIN", "1")
    monkeypatch.setenv("DB_POOL_MAX", "4")
    monkeypatch.setattr("shared.db.IDLE_CLOSE_SECONDS", 0.05)
    overlapping_pids(4)
    time.sleep(0.1)

    backend_pid()  # giving back closes the ones idle too long, keeping DB_POOL_MIN

    assert get_database().idle_count() == 1
    deadline = time.monotonic() + 5
    while len(app_backends(own_db_env)) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(app_backends(own_db_env)) == 1


def test_close_closes_idle_connections_and_those_given_back_afterwards(
    own_db_env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DB_POOL_MAX", "4")
    db = get_database()
    overlapping_pids(2)
    with db.connection() as held:
        db.close()
        assert db.idle_count() == 0
    assert held.closed  # borrowed before close(): closed when given back, not pooled

    assert db.idle_count() == 0
    deadline = time.monotonic() + 5
    while app_backends(own_db_env) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app_backends(own_db_env) == set()
    db.ping()  # and the pool serves again


def test_a_refused_password_rereads_the_secret_and_connects_once_more(
    own_db_env, monkeypatch: pytest.MonkeyPatch
):
    """PostgreSQL here trusts every local login, so the refusal is simulated at connect."""
    from shared.config import get_settings
    from shared.db import Database

    real_connect = psycopg2.connect
    calls: list[str] = []

    def connect(dsn: str, **kwargs: object) -> psycopg2.extensions.connection:
        calls.append(dsn)
        if "stale" in dsn:
            raise psycopg2.OperationalError('FATAL:  password authentication failed for user "x"')
        return real_connect(own_db_env, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("shared.db.psycopg2.connect", connect)
    secret = {"value": "postgresql://stale@127.0.0.1/x"}
    invalidations: list[bool] = []

    def invalidate() -> None:
        invalidations.append(True)
        secret["value"] = "postgresql://rotated@127.0.0.1/x"

    db = Database(lambda: secret["value"], get_settings(), on_auth_failure=invalidate)
    db.ping()
    db.ping()

    assert invalidations == [True]
    assert calls == ["postgresql://stale@127.0.0.1/x", "postgresql://rotated@127.0.0.1/x"]
    db.close()
