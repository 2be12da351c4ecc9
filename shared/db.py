"""PostgreSQL access: one lazily created, thread-safe connection pool per process.

- Connections are opened on demand (never at import) from the `DatabaseURL` secret, at most
  `DB_POOL_MAX` at once, and kept when given back: under overlapping requests each borrow reuses
  an open connection instead of paying a new connection (a TLS handshake and authentication in
  Azure) as psycopg2's pool did beyond its `minconn`. An idle connection unused for
  `IDLE_CLOSE_SECONDS` is closed, keeping at least `DB_POOL_MIN`.
- Borrowing waits up to `DB_POOL_WAIT_SECONDS` for a free connection, then answers 503, rather
  than failing at once as psycopg2's pool does when it is exhausted.
- A connection idle for longer than `DB_PREPING_IDLE_SECONDS` is pinged before use; a dead one
  (server restart, failover, idle timeout in Azure) is thrown away and replaced.
- A connection lost while borrowed (`connection_lost`: no SQLSTATE, or a connection or
  shutdown one) is discarded, and every pooled connection last used before that moment is
  pinged before its next use, so a server restart costs each pooled connection one ping.
- A new connection refused for its credentials (a rotated password, a renamed or disabled
  login: SQLSTATE 28P01 or 28000; on first use, growth or the replacement of a dead connection)
  invalidates the cached login, fetches a new one (at most once a second) and tries once
  more, so a rotated credential is picked up without a restart. While logins are refused,
  `login_refused` says why and `check_login` (readiness) fails, even if connections made
  before the change still serve some requests.
- What a new connection logs in with comes from shared.db_credentials (`DATABASE_AUTH`): the
  `DatabaseURL` secret, or a Microsoft Entra access token of the managed identity. A login with
  a token carries `renew_at`: a connection made with it is closed instead of reused from then
  on (when borrowed or given back), so no connection outlives its token.

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

from shared.config import Settings, get_settings
from shared.db_credentials import DatabaseCredentials, LoginCredential, PasswordCredentials
from shared.errors import ServiceUnavailableError
from shared.observability import get_logger

log = get_logger("db")

#: The cursor services and repositories receive: rows come back as dicts (column -> value).
Cursor = psycopg2.extras.RealDictCursor

#: What libpq reports when the server refuses a login for its credentials (psycopg2 gives a
#: connection failure no SQLSTATE): 28P01 invalid_password and the 28000
#: invalid_authorization_specification family (unknown role, role without LOGIN, pg_hba).
_AUTH_FAILURE_MARKERS = (
    "password authentication failed",
    "authentication failed",
    "password is required",
    "does not exist",  # FATAL: role "x" does not exist (the database one is 3D000, see below)
    "is not permitted to log in",
    "pg_hba.conf",
)


#: An idle connection unused for this long is closed (beyond `DB_POOL_MIN`), so an instance
#: that was busy once does not hold a server's connection slots for ever.
IDLE_CLOSE_SECONDS = 600.0


class _PooledConnection(psycopg2.extensions.connection):
    """A psycopg2 connection that remembers when it was last given back and to which pool."""

    last_used: float = 0.0
    generation: int = 0
    #: When (epoch seconds) the login it was made with is due for renewal: recycle it then.
    recycle_at: float | None = None

    def due_for_recycling(self) -> bool:
        return self.recycle_at is not None and time.time() >= self.recycle_at


class Database:
    """A bounded pool of psycopg2 connections that keeps what it opened (up to `DB_POOL_MAX`),
    with health checks on borrow."""

    def __init__(
        self,
        credentials: DatabaseCredentials | Callable[[], str],
        settings: Settings,
        on_auth_failure: Callable[[], None] | None = None,
    ):
        """`credentials` gives each new connection's login; a plain function returning a URL
        is a password login whose refusal calls `on_auth_failure` (forget the cached secret)."""
        if not isinstance(credentials, DatabaseCredentials):
            credentials = PasswordCredentials(credentials, on_auth_failure)
        self.credentials = credentials
        self._settings = settings
        self._lock = threading.Lock()
        #: Returned, healthy connections; the most recently returned last (reused first, so the
        #: rarely needed ones age at the front and are closed there).
        self._idle: list[_PooledConnection] = []
        #: Bumped by close(): connections of an older generation are closed when given back.
        self._generation = 0
        self._slots = threading.BoundedSemaphore(settings.db_pool_max)
        #: When a borrowed connection was last found lost (monotonic): older ones are suspect.
        self._lost_at = 0.0
        #: Why the last new connection was refused for its credentials; None once one logs in.
        self._login_refused: str | None = None

    @property
    def credentials_refresh_interval(self) -> float:
        """At most one new login is fetched per this many seconds after refusals."""
        return self.credentials.refresh_interval

    # -- connections -----------------------------------------------------------------------

    def _connect_kwargs(self, dsn: str) -> dict[str, Any]:
        # A connect_timeout in the URL is the operator's word: DB_CONNECT_TIMEOUT only fills in.
        in_url = psycopg2.extensions.parse_dsn(dsn).get("connect_timeout")
        return {
            "connect_timeout": in_url or self._settings.db_connect_timeout,
            "application_name": "neulbomcare",
            "options": f"-c statement_timeout={self._settings.db_statement_timeout_ms}",
            "keepalives": 1,
            "keepalives_idle": 30,
        }

    def _open(self, login: LoginCredential) -> _PooledConnection:
        with self._lock:
            generation = self._generation
        conn = psycopg2.connect(
            login.dsn, connection_factory=_PooledConnection, **self._connect_kwargs(login.dsn)
        )
        assert isinstance(conn, _PooledConnection)
        conn.generation = generation
        conn.recycle_at = login.renew_at
        return conn

    def _connect(self) -> _PooledConnection:
        """A new connection (first use, growth, or the replacement of a dead or recycled one).
        A login refused for its credentials (28P01, 28000) fetches a new one (the secret re-read,
        a new token; at most once per `credentials_refresh_interval`, so a login refused on every
        request does not become a Key Vault or token request every time) and tries once more;
        `login_refused` remembers the refusal until a new connection logs in."""
        login = self.credentials.current()
        try:
            conn = self._open(login)
        except psycopg2.OperationalError as exc:
            if not _is_auth_failure(exc):
                raise
            self._note_login_refused(exc)
            if not self.credentials.refused(login):
                raise
            try:
                conn = self._open(self.credentials.current())
            except psycopg2.OperationalError as retry_exc:
                if _is_auth_failure(retry_exc):
                    self._note_login_refused(retry_exc)
                raise
        self._login_refused = None
        return conn

    def _note_login_refused(self, exc: psycopg2.OperationalError) -> None:
        reason = _login_refusal(exc)
        if self._login_refused != reason:
            log.error("db_login_refused", error=reason)
        self._login_refused = reason

    @property
    def login_refused(self) -> str | None:
        """Why the server refused the last new connection's credentials (the server's words,
        never the password), or None once a new connection logged in."""
        return self._login_refused

    def check_login(self) -> None:
        """Readiness: after a refused login, whether a new connection logs in now (the secret
        re-read if need be); raises ServiceUnavailableError while it does not. Without a
        refused login this costs nothing: ping() proves the rest. Connections made before a
        credential change keep working, so ping() alone would say ok while every request that
        needs a new connection fails."""
        if self._login_refused is None:
            return
        try:
            _close_quietly(self._connect())
        except psycopg2.OperationalError as exc:
            raise ServiceUnavailableError(
                "The database is unavailable; try again shortly.", retry_after=5
            ) from exc

    def close(self) -> None:
        """Close every idle connection (borrowed ones when given back); the next use fetches its
        login again."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        self.credentials.reset()
        for conn in idle:
            _close_quietly(conn)

    # -- borrowing -------------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a healthy connection; it goes back to the pool (or is discarded) afterwards."""
        if not self._slots.acquire(timeout=self._settings.db_pool_wait_seconds):
            raise ServiceUnavailableError("The database is busy; try again shortly.", retry_after=2)
        try:
            try:
                conn = self._borrow_healthy()
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
                self._give_back(conn, broken=broken)
        finally:
            self._slots.release()

    def _take_idle(self) -> _PooledConnection | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _borrow_healthy(self) -> _PooledConnection:
        """The most recently returned idle connection that is alive, else a new one. Holding a
        slot, the caller is one of at most `DB_POOL_MAX` borrowers, so the pool never has more
        connections open than that."""
        while (conn := self._take_idle()) is not None:
            trusted = (
                time.monotonic() - conn.last_used < self._settings.db_preping_idle_seconds
                and conn.last_used > self._lost_at
            )
            if conn.due_for_recycling():
                log.info("db_connection_recycled")
                _close_quietly(conn)
                continue
            if not conn.closed and (trusted or _ping(conn)):
                return conn
            log.info("db_stale_connection_replaced")
            _close_quietly(conn)
        return self._connect()

    def _give_back(self, conn: _PooledConnection, *, broken: bool) -> None:
        idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
        if not broken and conn.info.transaction_status != idle:
            try:
                conn.rollback()
            except psycopg2.Error:
                broken = True
        if broken or conn.closed or conn.due_for_recycling():
            _close_quietly(conn)
            return
        now = time.monotonic()
        conn.last_used = now
        to_close: list[_PooledConnection] = []
        with self._lock:
            if conn.generation == self._generation and len(self._idle) < self._settings.db_pool_max:
                self._idle.append(conn)
            else:
                to_close.append(conn)
            while (
                len(self._idle) > self._settings.db_pool_min
                and now - self._idle[0].last_used > IDLE_CLOSE_SECONDS
            ):
                to_close.append(self._idle.pop(0))
        for stale in to_close:
            _close_quietly(stale)

    def idle_count(self) -> int:
        """How many returned connections the pool holds (tests, diagnostics)."""
        with self._lock:
            return len(self._idle)

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


def _close_quietly(conn: psycopg2.extensions.connection) -> None:
    try:
        conn.close()
    except psycopg2.Error:
        log.debug("db_close_failed")


def _is_auth_failure(exc: psycopg2.OperationalError) -> bool:
    """Whether a failed connect was refused for its credentials (28P01, 28000), not for want
    of a server or a database."""
    if exc.pgcode is not None:
        return exc.pgcode in ("28P01", "28000")
    text = str(exc).lower()
    if 'database "' in text and "does not exist" in text:
        return False  # 3D000: a wrong database name is not a credential to refresh
    return any(marker in text for marker in _AUTH_FAILURE_MARKERS)


def _login_refusal(exc: psycopg2.OperationalError) -> str:
    """The server's reason, without libpq's connection preamble (it never holds the password)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    _, _, reason = text.partition("FATAL:")
    return (reason or text).strip()[:200]


_db_lock = threading.Lock()
_database: Database | None = None


def get_database() -> Database:
    """The process-wide database, created on first use."""
    global _database  # noqa: PLW0603 - one pool per process is the design
    if _database is None:
        with _db_lock:
            if _database is None:
                from shared.db_credentials import build_credentials
                from shared.secrets import get_secrets

                settings = get_settings()
                _database = Database(build_credentials(settings, get_secrets()), settings)
    return _database


def login_dsn() -> str:
    """The DSN (password or token included) a new connection of the app logs in with now: for
    the jobs that open their own connections (backups, maintenance). Never log it."""
    return get_database().credentials.current().dsn


def reset_database() -> None:
    """Close and forget the process-wide pool (tests; after settings change)."""
    global _database  # noqa: PLW0603
    with _db_lock:
        if _database is not None:
            _database.close()
        _database = None
