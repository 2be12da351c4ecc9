"""Find a PostgreSQL server for development and tests, and create, migrate and drop databases.

Dev and test tooling only; nothing here is deployed. A developer or CI may bring their own server
(DATABASE_URL), this machine has one on 127.0.0.1:5432, and anywhere else `pgserver` embeds one
(it also works as root, where initdb refuses to). Tests then create throwaway databases on it.
URLs may carry passwords, so they are never printed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg2
from alembic import command
from alembic.config import Config
from psycopg2 import sql

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

REPO_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED_PGDATA = REPO_ROOT / ".local" / "pgdata"
MAINTENANCE_DB = "postgres"
PROBE_TIMEOUT_S = 2

# The embedded server stops when its last handle is garbage-collected or the process exits, so
# the handle lives as long as the module.
_embedded_server: PostgresServer | None = None


def _announce(message: str) -> None:
    """Say which server was chosen: a test run against the wrong one is a confusing failure."""
    print(f"devtools.database: {message}", file=sys.stderr)


def _answers(url: str) -> bool:
    """True when a server accepts a connection at `url` within PROBE_TIMEOUT_S."""
    try:
        conn = psycopg2.connect(url, connect_timeout=PROBE_TIMEOUT_S)
    except psycopg2.OperationalError:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        conn.close()
    return True


def _start_embedded_server() -> str:
    """Start (or reuse) the pgserver instance whose data lives in <repo>/.local/pgdata."""
    global _embedded_server  # noqa: PLW0603 - one server per process, by design
    # slow import, and only needed when no other server answers
    from pgserver.postgres_server import get_server

    EMBEDDED_PGDATA.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(EMBEDDED_PGDATA, cleanup_mode="stop")
    _embedded_server = server
    return server.get_uri(MAINTENANCE_DB)


def resolve_server_url() -> str:
    """Return a URL for the maintenance database of a server we may create databases on.

    Order: the server named by DATABASE_URL; the local server on 127.0.0.1:5432; an embedded
    pgserver instance.
    """
    env_url = os.environ.get("DATABASE_URL")
    if env_url:
        _announce("using the PostgreSQL server from DATABASE_URL")
        return with_database(libpq_url(env_url), MAINTENANCE_DB)
    if _answers(LOCAL_SERVER_URL):
        _announce("using the local PostgreSQL server at 127.0.0.1:5432")
        return LOCAL_SERVER_URL
    _announce(f"no server answered; using embedded PostgreSQL (pgserver) in {EMBEDDED_PGDATA}")
    return _start_embedded_server()


def libpq_url(url: str) -> str:
    """Drop a SQLAlchemy driver suffix (`postgresql+psycopg2://`), which libpq does not know."""
    scheme, sep, rest = url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


def with_database(url: str, dbname: str) -> str:
    """Return `url` pointing at database `dbname`, keeping host, credentials and query."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


def database_name(url: str) -> str:
    """The database a URL points at."""
    return unquote(urlsplit(url).path.lstrip("/"))


def _run_on_server(server_url: str, statement: sql.Composable) -> None:
    """Run one statement outside a transaction, as CREATE/DROP DATABASE require."""
    conn = psycopg2.connect(with_database(server_url, MAINTENANCE_DB))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def create_database(server_url: str, name: str) -> None:
    """Create an empty UTF-8 database (from template0, so nothing added to template1 leaks in)."""
    _run_on_server(
        server_url,
        sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(name)
        ),
    )


def drop_database(server_url: str, name: str) -> None:
    """Drop a database if it exists, disconnecting anyone still using it."""
    _run_on_server(
        server_url,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
    )


def database_exists(server_url: str, name: str) -> bool:
    """True when the server has a database called `name`."""
    conn = psycopg2.connect(with_database(server_url, MAINTENANCE_DB))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def ensure_database(url: str) -> bool:
    """Create the database `url` points at unless it exists; True when it was created."""
    name = database_name(url)
    if database_exists(url, name):
        return False
    create_database(url, name)
    return True


def _alembic_config(url: str) -> Config:
    """The repo's alembic.ini with the URL filled in, so env.py never needs secrets."""
    config = Config(str(ALEMBIC_INI))
    # ConfigParser interpolates '%', which percent-encoded passwords contain.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # Leave the caller's logging alone (see migrations/env.py).
    config.attributes["configure_logger"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`."""
    command.upgrade(_alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Downgrade the database at `url` to `revision`."""
    command.downgrade(_alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL")
            exists = cur.fetchone()
            if exists is None or not exists[0]:
                return None
            cur.execute("SELECT version_num FROM alembic_version")
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()
