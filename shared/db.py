"""PostgreSQL access: one lazily created, thread-safe connection pool per process.

- The pool is built on first use (never at import) from the `DatabaseURL` secret.
- Borrowing waits up to `DB_POOL_WAIT_SECONDS` for a free connection, then answers 503, rather
  than failing at once as psycopg2's pool does when it is exhausted.
- A connection idle for longer than `DB_PREPING_IDLE_SECONDS` is pinged before use; a dead one
  (server restart, failover, idle timeout in Azure) is thrown away and replaced.
- A connection lost while borrowed (`connection_lost`: no SQLSTATE, or a connection or
  shutdown one) is discarded, and every pooled connection last used before that moment is
  pinged before its next use, so a server restart costs each pooled connection one ping.
- A refused password invalidates the cached secret and rebuilds the pool once, so a rotated
  database password is picked up without a restart.

Use `transaction()` for work: it commits on success, rolls back on any error, and always returns
the connection. SQL lives in each area's repository module, always parameterised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

from shared.config import Settings, get_settings
from shared.errors import ServiceUnavailableError
from shared.observability import get_logger

log = get_logger("db")

#: The cursor services and repositories receive: rows come back as dicts (column -> value).
Cursor = psycopg2.extras.RealDictCursor

_AUTH_FAILURE_MARKERS = ("password authentication failed", "authentication failed")


class Database:
    """A bounded pool of psycopg2 connections with health checks on borrow."""

    def __init__(
        self,
        dsn_provider: Callable[[], str],
        settings: Settings,
        on_auth_failure: Callable[[], None] | None = None,
    ):
        self._dsn_provider = dsn_provider
        self._settings = settings
        self._on_auth_failure = on_auth_failure
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.db_pool_max)
        self._last_used: dict[int, float] = {}
        #: When a borrowed connection was last found lost (monotonic): older ones are suspect.
        self._lost_at = 0.0

    # -- pool life -------------------------------------------------------------------------

    def _connect_kwargs(self) -> dict[str, Any]:
        return {
            "connect_timeout": self._settings.db_connect_timeout,
            "application_name": "neulbomcare",
            "options": f"-c statement_timeout={self._settings.db_statement_timeout_ms}",
            "keepalives": 1,
            "keepalives_idle": 30,
        }

    def _build_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        return psycopg2.pool.ThreadedConnectionPool(
            self._settings.db_pool_min,
            self._settings.db_pool_max,
            dsn=self._dsn_provider(),
            **self._connect_kwargs(),
        )

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                try:
                    self._pool = self._build_pool()
                except psycopg2.OperationalError as exc:
                    if not _is_auth_failure(exc) or self._on_auth_failure is None:
                        raise
                    log.warning("db_auth_failed_refreshing_secret")
                    self._on_auth_failure()
                    self._pool = self._build_pool()
            return self._pool

    def close(self) -> None:
        """Close every connection; the next use builds a new pool."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None
            self._last_used.clear()

    # -- borrowing -------------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a healthy connection; it goes back to the pool (or is discarded) afterwards."""
        if not self._slots.acquire(timeout=self._settings.db_pool_wait_seconds):
            raise ServiceUnavailableError("The database is busy; try again shortly.", retry_after=2)
        try:
            try:
                pool = self._get_pool()
                conn = self._borrow_healthy(pool)
            except psycopg2.OperationalError as exc:
                log.error("db_unreachable", error=(str(exc).strip().splitlines() or [""])[0])
                raise ServiceUnavailableError(
                    "The database is unavailable; try again shortly.", retry_after=5
                ) from exc
            broken = False
            try:
                yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                # A statement timeout, deadlock or serialization failure leaves the connection
                # usable; a lost one does not (see connection_lost).
                broken = connection_lost(exc)
                raise
            finally:
                broken = broken or bool(conn.closed)
                if broken:
                    self._lost_at = time.monotonic()
                self._give_back(pool, conn, broken=broken)
        finally:
            self._slots.release()

    def _borrow_healthy(
        self, pool: psycopg2.pool.ThreadedConnectionPool
    ) -> psycopg2.extensions.connection:
        for _attempt in range(self._settings.db_pool_max + 1):
            conn = pool.getconn()
            last_used = self._last_used.get(id(conn), 0.0)
            trusted = (
                time.monotonic() - last_used < self._settings.db_preping_idle_seconds
                and last_used > self._lost_at
            )
            if not conn.closed and (trusted or _ping(conn)):
                return conn
            log.info("db_stale_connection_replaced")
            pool.putconn(conn, close=True)
        raise psycopg2.OperationalError("no healthy database connection could be made")

    def _give_back(
        self,
        pool: psycopg2.pool.ThreadedConnectionPool,
        conn: psycopg2.extensions.connection,
        *,
        broken: bool,
    ) -> None:
        idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
        if not broken and conn.info.transaction_status != idle:
            try:
                conn.rollback()
            except psycopg2.Error:
                broken = True
        self._last_used[id(conn)] = time.monotonic()
        if broken:
            self._last_used.pop(id(conn), None)
        pool.putconn(conn, close=broken)

    @contextmanager
    def transaction(
        self, *, readonly: bool = False, isolation: str | None = None
    ) -> Iterator[Cursor]:
        """A cursor (rows as dicts) inside one transaction: commit on success, else roll back."""
        with self.connection() as conn:
            conn.set_session(
                isolation_level=isolation, readonly=readonly, deferrable=False, autocommit=False
            )
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                    yield cursor
                conn.commit()
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise
            finally:
                if not conn.closed:
                    conn.set_session(isolation_level="DEFAULT", readonly=False)

    def ping(self) -> None:
        """One round trip (the readiness check); raises ServiceUnavailableError when down."""
        with self.transaction(readonly=True) as cursor:
            cursor.execute("SELECT 1")


def connection_lost(exc: BaseException) -> bool:
    """Whether a psycopg2 error means the connection itself is gone (server restart, failover,
    a terminated backend, a network cut) rather than that one statement failed: an
    InterfaceError, or an OperationalError without a SQLSTATE or with a connection-exception
    (08) or operator-intervention shutdown (57P01-57P03) one."""
    if isinstance(exc, psycopg2.InterfaceError):
        return True
    if not isinstance(exc, psycopg2.OperationalError):
        return False
    code = exc.pgcode
    return code is None or code.startswith("08") or code in ("57P01", "57P02", "57P03")


class ConnectionLostError(ServiceUnavailableError):
    """The database connection was lost during the work: 503 with Retry-After. Nothing the
    work did was committed unless it had committed before (UnitOfWork.commit_attempted)."""

    def __init__(self) -> None:
        super().__init__(
            "The connection to the database was lost; try again shortly.", retry_after=5
        )


def _ping(conn: psycopg2.extensions.connection) -> bool:
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
        conn.rollback()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        return False
    return True


def _is_auth_failure(exc: psycopg2.OperationalError) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _AUTH_FAILURE_MARKERS)


_db_lock = threading.Lock()
_database: Database | None = None


def get_database() -> Database:
    """The process-wide database, created on first use."""
    global _database  # noqa: PLW0603 - one pool per process is the design
    if _database is None:
        with _db_lock:
            if _database is None:
                from shared.secrets import get_secrets

                secrets = get_secrets()
                _database = Database(
                    dsn_provider=lambda: secrets.get("DatabaseURL"),
                    settings=get_settings(),
                    on_auth_failure=lambda: secrets.invalidate("DatabaseURL"),
                )
    return _database


def reset_database() -> None:
    """Close and forget the process-wide pool (tests; after settings change)."""
    global _database  # noqa: PLW0603
    with _db_lock:
        if _database is not None:
            _database.close()
        _database = None
