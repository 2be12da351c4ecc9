"""The local services `make run` needs: Azurite and a migrated database.

1. Azurite (Blob) from node_modules on 127.0.0.1:10000, data under .local/azurite (an Azurite
   already answering there is reused).
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
    else:
        step(f"starting Azurite on 127.0.0.1:{BLOB_PORT} (data in .local/azurite)")
        azurite = Azurite(ROOT / ".local" / "azurite", blob_port=BLOB_PORT)
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
