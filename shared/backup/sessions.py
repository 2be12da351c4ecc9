"""Connections for long operational jobs, with fixed output formats.

COPY's text output depends on session settings (time zone, date style, float digits, bytea
format). Every connection that writes or checks backup data uses the same settings, so a table's
checksum taken by the backup equals the one a drill takes on the restored copy, whatever the
server's or role's defaults. These jobs (backups, restores, drills, maintenance) run longer than
the API's statement timeout, so theirs is the operator's, `OPERATOR_STATEMENT_TIMEOUT_MS`
(default 0: none), never the request-sized `DB_STATEMENT_TIMEOUT_MS`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from shared.db import Cursor

SESSION_SETTINGS = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
    "SET idle_in_transaction_session_timeout = 0",
)


def operator_statement_timeout_ms() -> int:
    """The statement timeout of operator jobs and commands, in ms (0: none)."""
    from shared.config import get_settings

    return get_settings().operator_statement_timeout_ms


def database_url() -> str:
    """The URL these jobs connect with: the app pool's current login (shared.db_credentials:
    the `DatabaseURL` secret, or with DATABASE_AUTH=entra the identity's token). A session
    outlives its token; only the login needs a valid one."""
    from shared.db import login_dsn

    return login_dsn()


def connect(
    url: str, *, autocommit: bool = False, application_name: str = "neulbomcare-ops"
) -> psycopg2.extensions.connection:
    """A new connection with the fixed formats; the caller closes it."""
    conn = psycopg2.connect(
        url,
        application_name=application_name,
        connect_timeout=10,
        keepalives=1,
        keepalives_idle=30,
    )
    conn.set_client_encoding("UTF8")
    with conn.cursor() as cur:
        for statement in SESSION_SETTINGS:
            cur.execute(statement)
        cur.execute(
            "SELECT set_config('statement_timeout', %s, false)",
            (str(operator_statement_timeout_ms()),),
        )
    conn.commit()
    conn.autocommit = autocommit
    return conn


def parallel_connections() -> int:
    """How many connections a backup or restore works on (`BACKUP_PARALLEL_CONNECTIONS`)."""
    from shared.config import get_settings

    return get_settings().backup_parallel_connections


_Item = TypeVar("_Item")


def share_work(
    connections: Sequence[psycopg2.extensions.connection],
    items: Iterable[_Item],
    work: Callable[[psycopg2.extensions.connection, _Item], None],
) -> None:
    """Run `work(connection, item)` for every item, one thread per connection.

    Items are taken in the order given by whichever connection is free first, so a list sorted
    largest first goes each time to the least loaded connection. The first error stops the
    others: no new item is started, their running statement is cancelled, and that first error
    is raised once every thread has stopped.
    """
    pending = deque(items)
    guard = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()

    def run(conn: psycopg2.extensions.connection) -> None:
        while not stop.is_set():
            with guard:
                if not pending:
                    return
                item = pending.popleft()
            try:
                work(conn, item)
            except BaseException as exc:
                with guard:
                    errors.append(exc)
                    first = len(errors) == 1
                stop.set()
                if first:
                    for other in connections:
                        if other is not conn and not other.closed:
                            with contextlib.suppress(Exception):
                                other.cancel()
                return

    if len(connections) == 1:
        run(connections[0])
    else:
        threads = [
            threading.Thread(target=run, args=(conn,), name=f"ops-conn-{index}", daemon=True)
            for index, conn in enumerate(connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def dict_cursor(conn: psycopg2.extensions.connection) -> Cursor:
    """A cursor whose rows are dicts, like shared.db's."""
    return conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
