"""The manifest: what a backup holds and how to check it, written last.

One JSON document per backup. Per table it records the blobs (name, size, sha256 of the stored
bytes), the rows in them, and `table_rows`, the table's row count in the backup's snapshot (what
a restore up to this backup must end with). For a full backup `content_sha256` is the sha256 of
the uncompressed COPY text ordered by primary key: a checksum of the table itself, which a drill
recomputes on the restored copy.

Table modes: `full` (a full backup's table), `upsert` (an incremental: delete `keys`, then load
rows), `replace` (an incremental that copies the whole table: after a TRUNCATE, or for a table
without change tracking), `unchanged` (no blob).

The stored document is signed (shared.backup.signing): read stored manifests through
`signing.read_manifest`, which checks the signature before parsing. `provenance` records how a
manifest was read ("signed", "trusted-unsigned", or "unverified" for one built or parsed here);
a restore refuses unverified ones. Ids are checked against the id format (shared.backup.layout).
"""

from __future__ import annotations

import builtins
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared.backup import layout

FORMAT_VERSION = 1
TABLE_MODES = ("full", "upsert", "replace", "unchanged")
KINDS = ("full", "incremental")
PROVENANCES = ("unverified", "signed", "trusted-unsigned")


class ManifestError(ValueError):
    """A manifest that cannot be read or does not describe a usable backup."""


@dataclass(frozen=True)
class BlobEntry:
    """One stored file: its blob name, stored size, sha256 of the stored bytes, rows in it."""

    name: str
    bytes: int
    sha256: str
    rows: int
    content_sha256: str


@dataclass(frozen=True)
class TableEntry:
    name: str
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    mode: str
    table_rows: int
    data: BlobEntry | None = None
    keys: BlobEntry | None = None

    @property
    def blobs(self) -> tuple[BlobEntry, ...]:
        return tuple(blob for blob in (self.keys, self.data) if blob is not None)

    @property
    def rows(self) -> int:
        return self.data.rows if self.data else 0

    @property
    def bytes(self) -> int:
        return sum(blob.bytes for blob in self.blobs)


@dataclass(frozen=True)
class Manifest:
    backup_id: str
    kind: str
    started_at: datetime
    finished_at: datetime
    snapshot_at: datetime
    snapshot: str
    alembic_revision: str | None
    base_backup_id: str | None
    previous_backup_id: str | None
    tables: tuple[TableEntry, ...]
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    #: How this object was read (not part of the document): see the module's docstring.
    provenance: str = field(default="unverified", compare=False, repr=False)

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    @property
    def bytes(self) -> int:
        return sum(table.bytes for table in self.tables)

    @property
    def blobs(self) -> tuple[BlobEntry, ...]:
        return tuple(blob for table in self.tables for blob in table.blobs)

    def table(self, name: str) -> TableEntry:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def to_json(self) -> builtins.bytes:  # `bytes` is a property of this class
        document = asdict(self)
        document.pop("provenance")
        for key in ("started_at", "finished_at", "snapshot_at"):
            document[key] = getattr(self, key).isoformat()
        return json.dumps(document, indent=1, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: builtins.bytes | str) -> Manifest:
        try:
            document = json.loads(raw)
            if document.get("format_version") != FORMAT_VERSION:
                raise ManifestError(f"unknown manifest format {document.get('format_version')!r}")
            tables = tuple(_table(entry) for entry in document["tables"])
            _check_ids(document)
            return cls(
                backup_id=document["backup_id"],
                kind=document["kind"],
                started_at=datetime.fromisoformat(document["started_at"]),
                finished_at=datetime.fromisoformat(document["finished_at"]),
                snapshot_at=datetime.fromisoformat(document["snapshot_at"]),
                snapshot=document["snapshot"],
                alembic_revision=document.get("alembic_revision"),
                base_backup_id=document.get("base_backup_id"),
                previous_backup_id=document.get("previous_backup_id"),
                tables=tables,
                extra=document.get("extra") or {},
            )
        except ManifestError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(f"unreadable manifest: {type(exc).__name__}: {exc}") from None


def _check_ids(document: dict[str, Any]) -> None:
    """The ids a chain walk follows must be ids of ours, of the kinds they claim to be."""
    backup_id, kind = document["backup_id"], document["kind"]
    if kind not in KINDS:
        raise ManifestError(f"unknown backup kind {kind!r}")
    if not isinstance(backup_id, str) or not layout.is_backup_id(backup_id):
        raise ManifestError(f"not a backup id: {backup_id!r}")
    if layout.parse_backup_id(backup_id)[0] != kind:
        raise ManifestError(f"{backup_id} is not the id of a {kind} backup")
    for name, wanted in (("base_backup_id", "full"), ("previous_backup_id", None)):
        value = document.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not layout.is_backup_id(value):
            raise ManifestError(f"{backup_id}: {name} is not a backup id: {value!r}")
        if wanted and layout.parse_backup_id(value)[0] != wanted:
            raise ManifestError(f"{backup_id}: {name} {value} is not a {wanted} backup")


def _blob(entry: dict[str, Any] | None) -> BlobEntry | None:
    return None if entry is None else BlobEntry(**entry)


def _table(entry: dict[str, Any]) -> TableEntry:
    if entry["mode"] not in TABLE_MODES:
        raise ManifestError(f"unknown table mode {entry['mode']!r}")
    return TableEntry(
        name=entry["name"],
        columns=tuple(entry["columns"]),
        key_columns=tuple(entry["key_columns"]),
        mode=entry["mode"],
        table_rows=int(entry["table_rows"]),
        data=_blob(entry.get("data")),
        keys=_blob(entry.get("keys")),
    )
