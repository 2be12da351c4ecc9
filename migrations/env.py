"""Alembic environment: finds the database and runs each migration in its own transaction.

The URL is looked up in a fixed order so that every caller can hand it over the way that suits
it: tests and devtools pass a connection or a URL in the Config object, operators pass
`-x url=...` or simply set DATABASE_URL (read through shared.secrets, which also knows Key
Vault). The URL may carry a password, so it is never printed, logged or echoed in an error.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError

config = context.config

# Only the command line configures logging: when tests or devtools call alembic's API, the
# caller's logging (pytest's capture, structlog) must survive.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Migrations are raw SQL (op.execute); there are no ORM models to compare against.
target_metadata = None

_DRIVER_SCHEME = "postgresql+psycopg2://"
_PLAIN_SCHEMES = ("postgres://", "postgresql://")


def normalise_url(url: str) -> str:
    """Point libpq-style URLs at the psycopg2 driver SQLAlchemy should use.

    Azure and most tools hand out `postgres://` or `postgresql://`; SQLAlchemy rejects the first
    and would guess the driver for the second.
    """
    for scheme in _PLAIN_SCHEMES:
        if url.startswith(scheme):
            return _DRIVER_SCHEME + url[len(scheme) :]
    return url


def resolve_url() -> str:
    """Find the database URL: `-x url=`, then sqlalchemy.url, then the DatabaseURL secret."""
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        # Imported here so that callers passing a URL never need the secrets machinery.
        from shared.secrets import get_secret

        url = get_secret("DatabaseURL")
    if not url:
        raise RuntimeError(
            "No database URL: set DATABASE_URL, pass -x url=..., or set sqlalchemy.url."
        )
    return normalise_url(url)


def _run(connection: Connection) -> None:
    """Run pending migrations, one transaction per revision, so a failure leaves a clean step."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the caller's connection if there is one, else open (and close) our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    try:
        url = make_url(resolve_url())
    except (ArgumentError, ValueError):
        # SQLAlchemy's ArgumentError quotes the whole string, password included.
        raise RuntimeError("The database URL could not be parsed (value not shown).") from None
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) mode is not supported: run migrations against a database.")
run_migrations_online()
