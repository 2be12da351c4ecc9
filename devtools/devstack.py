"""The local services `make run` needs: Azurite and a migrated database.

1. Azurite (Blob on 127.0.0.1:10000, Queue on 10001: the endpoints `UseDevelopmentStorage=true`
   names) from node_modules, data under .local/azurite (an Azurite already answering there is
   reused).
2. A database: DATABASE_URL if set; else PostgreSQL on 127.0.0.1:5432 if it answers; else an
   embedded server (pgserver). The `neulbomcare` database is created when missing, then
   migrated to head.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from devtools.azurite import Azurite
from devtools.database import ensure_database, migrate, resolve_server_url, with_database

ROOT = Path(__file__).resolve().parent.parent
BLOB_PORT = 10000
QUEUE_PORT = 10001
TABLE_PORT = 10002
DATABASE_NAME = "neulbomcare"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def port_answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def local_services() -> Iterator[str]:
    """Start (or reuse) Azurite and a migrated database; yield the database URL."""
    azurite: Azurite | None = None
    if port_answers("127.0.0.1", BLOB_PORT):
        step(f"Azurite already answers on 127.0.0.1:{BLOB_PORT}; reusing it")
        if not port_answers("127.0.0.1", QUEUE_PORT):
            step(f"note: nothing answers on 127.0.0.1:{QUEUE_PORT}; queue triggers cannot poll")
    else:
        step(
            f"starting Azurite: Blob on 127.0.0.1:{BLOB_PORT}, Queue on {QUEUE_PORT} "
            "(data in .local/azurite)"
        )
        azurite = Azurite(
            ROOT / ".local" / "azurite",
            blob_port=BLOB_PORT,
            queue_port=QUEUE_PORT,
            table_port=TABLE_PORT,
        )
        azurite.start()
    try:
        database_url = os.environ.get("DATABASE_URL") or with_database(
            resolve_server_url(), DATABASE_NAME
        )
        if ensure_database(database_url):
            step(f"created database {DATABASE_NAME}")
        step("migrating to head")
        migrate(database_url)
        yield database_url
    finally:
        if azurite is not None:
            azurite.stop()
