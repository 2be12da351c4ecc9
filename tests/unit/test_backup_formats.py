"""Pure parts of the backups: names, manifests, chain pruning, table order, streaming, ages."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from shared.backup import layout
from shared.backup.blobio import BlockUploader, CopySink
from shared.backup.data_tables import TableInfo, dependency_order
from shared.backup.locks import lock_key
from shared.backup.manifest import BlobEntry, Manifest, ManifestError, TableEntry
from shared.backup.retention import plan_prune
from shared.backup.status import backup_problems
from shared.backup.stored_backups import StoredBackup

WHEN = datetime(2026, 11, 26, 18, 0, 5, tzinfo=UTC)


def test_backup_ids_are_time_stamped_unique_and_parse_back() -> None:
    first = layout.new_backup_id("full", WHEN)
    second = layout.new_backup_id("full", WHEN)

    assert first.startswith("full-20261126T180005Z-")
    assert first != second
    assert layout.parse_backup_id(first) == ("full", WHEN)
    assert layout.parse_backup_id(layout.new_backup_id("incremental", WHEN))[0] == "incremental"
    assert layout.backup_id_of_manifest(layout.manifest_blob(first)) == first
    assert layout.backup_id_of_manifest("manifests/notes.json") is None
    with pytest.raises(ValueError, match="not a backup id"):
        layout.parse_backup_id("full-yesterday")


def _manifest(**changes) -> Manifest:
    blob = BlobEntry(name="data/x/users.copy.gz", bytes=10, sha256="a" * 64, rows=2,
                     content_sha256="b" * 64)  # fmt: skip
    values = {
        "backup_id": "full-20261126T180005Z-abc123",
        "kind": "full",
        "started_at": WHEN,
        "finished_at": WHEN + timedelta(seconds=3),
        "snapshot_at": WHEN + timedelta(seconds=1),
        "snapshot": "100:105:101",
        "alembic_revision": "0002",
        "base_backup_id": None,
        "previous_backup_id": None,
        "tables": (TableEntry("users", ("user_id", "email"), ("user_id",), "full", 2, blob),),
    }
    return Manifest(**{**values, **changes})


def test_manifest_round_trips_through_json() -> None:
    manifest = _manifest()

    again = Manifest.from_json(manifest.to_json())

    assert again == manifest
    assert again.rows == 2
    assert again.bytes == 10
    assert again.table("users").blobs == (manifest.tables[0].data,)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "unreadable"),
        (b'{"format_version": 99}', "unknown manifest format"),
        (b'{"format_version": 1, "tables": []}', "unreadable"),
    ],
)
def test_bad_manifests_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(raw)


def _stored(backup_id: str, snapshot_at: datetime, base: str | None = None) -> StoredBackup:
    kind, started = layout.parse_backup_id(backup_id)
    return StoredBackup(backup_id, kind, base, snapshot_at, started)


def test_plan_prune_keeps_chains_that_reach_into_the_window() -> None:
    now = WHEN
    old_full = layout.new_backup_id("full", now - timedelta(days=40))
    old_inc = layout.new_backup_id("incremental", now - timedelta(days=39))
    edge_full = layout.new_backup_id("full", now - timedelta(days=36))
    edge_inc = layout.new_backup_id("incremental", now - timedelta(days=34))
    new_full = layout.new_backup_id("full", now - timedelta(days=1))
    backups = [
        _stored(old_full, now - timedelta(days=40)),
        _stored(old_inc, now - timedelta(days=39), old_full),
        _stored(edge_full, now - timedelta(days=36)),
        _stored(edge_inc, now - timedelta(days=34), edge_full),
        _stored(new_full, now - timedelta(days=1)),
    ]

    delete, keep = plan_prune(backups, retention_days=35, now=now)

    assert delete == sorted([old_full, old_inc])
    assert keep == sorted([edge_full, edge_inc, new_full])
    # Only old backups: the newest full backup's chain survives anyway.
    delete, keep = plan_prune(backups[:2], retention_days=35, now=now)
    assert (delete, keep) == ([], sorted([old_full, old_inc]))


def _table(name: str, *parents: str) -> TableInfo:
    return TableInfo(name, ("id",), ("id",), (), parents, True)


def test_dependency_order_puts_parents_first() -> None:
    tables = [
        _table("care_logs", "schedules", "patients"),
        _table("schedules", "patients"),
        _table("patients", "guardians"),
        _table("guardians", "users"),
        _table("users"),
    ]

    order = [t.name for t in dependency_order(tables)]

    assert order == ["users", "guardians", "patients", "schedules", "care_logs"]
    cyclic = dependency_order([_table("a", "b"), _table("b", "a"), _table("c")])
    assert sorted(t.name for t in cyclic) == ["a", "b", "c"]


class _FakeBlob:
    """Just the block-blob calls BlockUploader makes."""

    def __init__(self) -> None:
        self.staged: dict[str, bytes] = {}
        self.committed: bytes | None = None

    def stage_block(self, block_id: str, data: bytes, length: int) -> None:
        assert len(data) == length
        self.staged[block_id] = data

    def commit_block_list(self, blocks, metadata=None) -> None:
        self.committed = b"".join(self.staged[b.id] for b in blocks)


def _committed(blob: _FakeBlob) -> bytes:
    """The blob's committed bytes, asserting the block list was committed."""
    assert blob.committed is not None, "the block list was never committed"
    return blob.committed


def test_copy_sink_streams_rows_in_blocks_and_describes_them() -> None:
    rows = [f"{i}\tname {i}\\nwith escaped newline\n".encode() for i in range(50_000)]
    blob = _FakeBlob()
    sink = CopySink(BlockUploader(blob, block_bytes=64 * 1024, threads=2))

    for row in rows:
        sink.write(row)
    assert blob.committed is None  # nothing exists until close()
    entry = sink.close("data/x/t.copy.gz")

    content = b"".join(rows)
    committed = _committed(blob)
    assert len(blob.staged) > 1
    assert gzip.decompress(committed) == content
    assert entry.rows == 50_000
    assert entry.content_sha256 == hashlib.sha256(content).hexdigest()
    assert entry.sha256 == hashlib.sha256(committed).hexdigest()
    assert entry.bytes == len(committed)


def test_backup_problems_use_the_rpo_limits() -> None:
    fresh = {"latest_full_age_s": 3600.0, "latest_backup_age_s": 600.0}
    assert backup_problems(fresh) == []
    stale = {"latest_full_age_s": 27 * 3600.0, "latest_backup_age_s": 31 * 60.0}
    assert backup_problems(stale) == [
        "the newest full backup is 27.0 h old (limit 26 h)",
        "the newest backup is 31 min old (limit 30 min)",
    ]
    assert backup_problems({"latest_full_age_s": None, "latest_backup_age_s": None}) == [
        "no full backup has succeeded yet"
    ]


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("backup") == lock_key("backup")
    assert lock_key("backup") != lock_key("restore_drill")
    assert -(2**63) <= lock_key("db_maintenance") < 2**63
