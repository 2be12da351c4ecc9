"""Advisory locks that keep a job from running twice at once (any timer can use them).

A timer may fire while its previous run is still going (a slow backup, a `past_due` catch-up
after a restart, two instances of the Function App). Each job takes a session-level
`pg_try_advisory_lock` on a connection of its own, held for the whole run: the lock cannot
outlive the run (PostgreSQL releases it when the connection closes, also when the worker dies),
and the second caller learns at once that it should skip instead of waiting.

"When the worker dies" must not wait for the operating system's two-hour TCP keepalive when an
instance vanishes without closing its sockets: the lock's connection asks the server to probe it
(`SERVER_KEEPALIVE`), so the server drops it, and the lock, about a minute after the last sign of
life. A job's lease (shared.jobs.lease) is longer than that, so a lapsed lease means the lock is
free too.

    with job_lock(database_url, "db_maintenance") as lock:
        if not lock.acquired:
            return "skipped"
        ...  # lock.connection is an autocommit connection you may use for bookkeeping
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from shared.backup.sessions import connect

#: One name for every job that writes backups, so full, incremental and pruning never overlap.
BACKUP_LOCK = "backup"
#: Taken for the transaction that accepts a backup job, so two requests cannot both queue one.
BACKUP_SUBMIT_LOCK = "backup-submit"

#: Server-side TCP keepalive of a lock's connection: idle 20 s, then 3 probes 10 s apart.
SERVER_KEEPALIVE = (
    "SET tcp_keepalives_idle = 20",
    "SET tcp_keepalives_interval = 10",
    "SET tcp_keepalives_count = 3",
)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (the same in every process and release)."""
    digest = hashlib.blake2b(f"neulbomcare:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class JobLock:
    name: str
    acquired: bool
    connection: Any


@contextmanager
def advisory_lock(conn: Any, name: str) -> Iterator[bool]:
    """Try to take the lock `name` on `conn` (autocommit); yield whether it was taken."""
    key = lock_key(name)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        acquired = bool(cur.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired and not conn.closed:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (key,))


def transaction_lock(cur: Any, name: str) -> None:
    """Wait for the lock `name` until the cursor's transaction ends (pg_advisory_xact_lock)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(name),))


@contextmanager
def job_lock(database_url: str, name: str) -> Iterator[JobLock]:
    """A dedicated autocommit connection holding the lock `name` for the block, if free."""
    conn = connect(database_url, autocommit=True, application_name=f"neulbomcare-{name}")
    try:
        with conn.cursor() as cur:
            for statement in SERVER_KEEPALIVE:
                cur.execute(statement)
        with advisory_lock(conn, name) as acquired:
            yield JobLock(name=name, acquired=acquired, connection=conn)
    finally:
        conn.close()
