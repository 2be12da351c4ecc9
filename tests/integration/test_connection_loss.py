"""A database restart is an outage, never an error: a connection lost during a request is a 503
with Retry-After (problem+json), the connection is discarded, a GET is retried once on a fresh
connection, and the next request succeeds.

Nothing here restarts the shared PostgreSQL: each test gets a throwaway database and kills only
the backends connected to it (`pg_terminate_backend`), while a request is in flight, through the
real pipeline (`handle_http`) on a route registered in-process.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import psycopg2
import psycopg2.extensions
import pytest

from shared.db import get_database
from shared.http import Api, ApiRequest, RouteRegistry
from shared.http.pipeline import handle_http

pytestmark = pytest.mark.integration

Handler = Callable[[ApiRequest], Any]


@pytest.fixture
def own_db(
    migrated_database_url: str, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """The in-process app on a database of this test's own (so killing its backends hurts no
    one else)."""
    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    return migrated_database_url


@pytest.fixture
def killer(own_db: str) -> Iterator[psycopg2.extensions.connection]:
    """An autocommit connection outside the pool, on the same database, that kills the rest."""
    conn = psycopg2.connect(own_db)
    conn.autocommit = True
    yield conn
    conn.close()


def terminate_others(killer: psycopg2.extensions.connection, pid: int | None = None) -> int:
    """Terminate the app's backends on this database (or just `pid`), waiting for them to go."""
    with killer.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM ("
            " SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND (%(pid)s::int IS NULL OR pid = %(pid)s::int)) AS killed",
            {"pid": pid},
        )
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def call(method: str, handler: Handler) -> func.HttpResponse:
    """One request through the real pipeline to a public probe route."""
    api = Api(tag="probe", registry=RouteRegistry())
    api.route(method, "api/probe", name="probe", public=True)(handler)
    (spec,) = api.registry.routes()
    request = func.HttpRequest(
        method=method, url="http://127.0.0.1/api/probe", headers={}, body=b""
    )
    return handle_http(spec, request)


def assert_unavailable(response: func.HttpResponse) -> dict[str, Any]:
    assert response.status_code == 503, response.get_body()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) >= 1
    body = json.loads(response.get_body())
    assert (body["status"], body["code"]) == (503, "unavailable")
    assert "internal" not in body["detail"].lower()
    assert "server closed" not in body["detail"]  # the driver's words stay in the log
    return body


def own_pid(request: ApiRequest) -> int:
    request.uow.cursor.execute("SELECT pg_backend_pid() AS pid")
    row = request.uow.cursor.fetchone()
    assert row is not None
    return int(row["pid"])


def select_one(request: ApiRequest) -> dict[str, int]:
    request.uow.cursor.execute("SELECT 1 AS one")
    row = request.uow.cursor.fetchone()
    assert row is not None
    return {"one": int(row["one"])}


def test_a_post_whose_backend_dies_mid_statement_is_a_503_and_the_pool_recovers(own_db, killer):
    """The reported failure: the connection dies during a statement (a restart while four
    clients write); before, `OperationalError` escaped the pipeline as a 500."""
    calls: list[int] = []

    def slow_write(request: ApiRequest) -> dict[str, bool]:
        calls.append(own_pid(request))
        request.uow.cursor.execute("CREATE TABLE IF NOT EXISTS probe_rows (n int)")
        request.uow.cursor.execute("INSERT INTO probe_rows VALUES (1)")
        request.uow.cursor.execute("SELECT pg_sleep(30)")
        return {"ok": True}

    def kill_when_sleeping() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with killer.cursor() as cur:
                cur.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'"
                )
                if cur.fetchone() is not None:
                    terminate_others(killer)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=kill_when_sleeping)
    thread.start()
    started = time.monotonic()
    response = call("POST", slow_write)
    thread.join()
    assert time.monotonic() - started < 20  # the kill ended the statement, not pg_sleep
    assert_unavailable(response)
    assert len(calls) == 1  # a POST is never run twice

    # Nothing was committed, and the pool hands out a working connection at once.
    with killer.cursor() as cur:
        cur.execute("SELECT to_regclass('probe_rows') IS NULL")
        assert cur.fetchone() == (True,)
    again = call("GET", select_one)
    assert again.status_code == 200
    assert json.loads(again.get_body()) == {"one": 1}


def test_a_get_whose_connection_dies_is_retried_once_on_a_fresh_connection(own_db, killer):
    pids: list[int] = []

    def read(request: ApiRequest) -> dict[str, int]:
        pid = own_pid(request)
        pids.append(pid)
        if len(pids) == 1:  # the first attempt loses its connection in flight
            assert terminate_others(killer, pid) == 1
        return select_one(request)

    response = call("GET", read)
    assert response.status_code == 200, response.get_body()
    assert json.loads(response.get_body()) == {"one": 1}
    assert len(pids) == 2
    assert pids[0] != pids[1]


def test_a_get_that_loses_its_connection_twice_is_a_503_after_one_retry(own_db, killer):
    attempts: list[int] = []

    def always_killed(request: ApiRequest) -> dict[str, int]:
        pid = own_pid(request)
        attempts.append(pid)
        terminate_others(killer, pid)
        return select_one(request)

    assert_unavailable(call("GET", always_killed))
    assert len(attempts) == 2
    assert call("GET", select_one).status_code == 200


def test_a_get_that_committed_is_not_retried(own_db, killer):
    """After `uow.commit()` the work may have changed something: doing it again could do it
    twice, so the lost connection is answered with a 503."""
    attempts: list[int] = []

    def commits_then_dies(request: ApiRequest) -> dict[str, int]:
        own_pid(request)
        request.uow.commit()
        pid = own_pid(request)
        attempts.append(pid)
        terminate_others(killer, pid)
        return select_one(request)

    assert_unavailable(call("GET", commits_then_dies))
    assert len(attempts) == 1


def test_every_pooled_connection_killed_by_a_restart_is_replaced_not_served(
    own_db, killer, monkeypatch
):
    """A restart kills idle pooled connections too: after one is found lost, the others are
    pinged before use, so the requests that follow succeed instead of failing one by one."""
    monkeypatch.setenv("DB_POOL_MIN", "3")  # the pool keeps (at most) DB_POOL_MIN idle ones
    database = get_database()
    held = [database.connection() for _ in range(3)]
    for borrowed in held:
        borrowed.__enter__()
    for borrowed in reversed(held):
        borrowed.__exit__(None, None, None)
    assert terminate_others(killer) >= 3

    statuses = [call("POST", select_one).status_code for _ in range(4)]
    # The first POST finds its (dead) connection lost; every later one gets a live connection.
    assert statuses[1:] == [200, 200, 200]
    assert statuses[0] in (200, 503)
