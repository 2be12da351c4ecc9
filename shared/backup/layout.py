"""Where a backup's blobs live, and how backups are named.

    manifests/<backup_id>.json          the manifest; its presence means "complete"
    data/<backup_id>/<table>.copy.gz    rows, gzip'd COPY text format
    data/<backup_id>/<table>.keys.gz    incrementals: keys of the rows changed or deleted

Ids are time-stamped (`full-20261126T180000Z-3f9a1c`), so names sort by time and two runs in the
same second still differ. Manifests sit apart from the data so listing the backups is one
listing of small blobs, not of every table file.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

MANIFEST_PREFIX = "manifests/"
DATA_PREFIX = "data/"
KIND_TAGS = {"full": "full", "incremental": "incr"}
_ID_PATTERN = re.compile(r"^(full|incr)-(\d{8}T\d{6}Z)-([a-z0-9]+)$")


def new_backup_id(kind: str, when: datetime) -> str:
    """A fresh id for a backup of `kind` started at `when` (UTC)."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{KIND_TAGS[kind]}-{stamp}-{secrets.token_hex(3)}"


def parse_backup_id(backup_id: str) -> tuple[str, datetime]:
    """(kind, start time) of an id; ValueError when it is not one of ours."""
    match = _ID_PATTERN.match(backup_id)
    if match is None:
        raise ValueError(f"not a backup id: {backup_id!r}")
    kind = "full" if match.group(1) == "full" else "incremental"
    started = datetime.strptime(match.group(2), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return kind, started


def is_backup_id(value: str) -> bool:
    return _ID_PATTERN.match(value) is not None


def manifest_blob(backup_id: str) -> str:
    return f"{MANIFEST_PREFIX}{backup_id}.json"


def data_prefix(backup_id: str) -> str:
    return f"{DATA_PREFIX}{backup_id}/"


def rows_blob(backup_id: str, table: str) -> str:
    return f"{data_prefix(backup_id)}{table}.copy.gz"


def keys_blob(backup_id: str, table: str) -> str:
    return f"{data_prefix(backup_id)}{table}.keys.gz"


def backup_id_of_manifest(blob_name: str) -> str | None:
    """The id a manifest blob name belongs to, or None for anything else."""
    if not blob_name.startswith(MANIFEST_PREFIX) or not blob_name.endswith(".json"):
        return None
    candidate = blob_name[len(MANIFEST_PREFIX) : -len(".json")]
    return candidate if is_backup_id(candidate) else None
