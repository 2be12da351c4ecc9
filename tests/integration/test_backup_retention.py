"""Retention over 40 days of backups: whole chains older than the cutoff go, the rest stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.backup import layout
from shared.backup.blobio import upload_small
from shared.backup.manifest import Manifest
from shared.backup.retention import prune_backups
from shared.backup.stored_backups import list_backups

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _store(container, kind: str, when: datetime, base: str | None, previous: str | None) -> str:
    """A small but complete backup (manifest + one data blob) dated `when`."""
    backup_id = layout.new_backup_id(kind, when)
    container.upload_blob(layout.rows_blob(backup_id, "users"), b"x")
    manifest = Manifest(
        backup_id=backup_id,
        kind=kind,
        started_at=when,
        finished_at=when,
        snapshot_at=when,
        snapshot="1:1:",
        alembic_revision="0002",
        base_backup_id=base,
        previous_backup_id=previous,
        tables=(),
    )
    upload_small(
        container.get_blob_client(layout.manifest_blob(backup_id)),
        manifest.to_json(),
        metadata={"kind": kind, "base_backup_id": base or "", "snapshot_at": when.isoformat()},
    )
    return backup_id


def _chains(container, days: range) -> dict[int, list[str]]:
    """For each day back: a full backup at that day minus 1 h, then 3 incrementals 6 h apart."""
    chains = {}
    for day in days:
        when = NOW - timedelta(days=day, hours=1)
        full = _store(container, "full", when, None, None)
        members, previous = [full], full
        for step in (1, 2, 3):
            previous = _store(
                container, "incremental", when + timedelta(hours=6 * step), full, previous
            )
            members.append(previous)
        chains[day] = members
    return chains


def test_backups_across_40_days_keep_35_days_restorable(backup_container) -> None:
    chains = _chains(backup_container, range(40, -1, -1))
    orphan_old = layout.new_backup_id("full", NOW - timedelta(days=2))
    orphan_new = layout.new_backup_id("incremental", NOW - timedelta(minutes=5))
    for orphan in (orphan_old, orphan_new):  # runs that died before writing a manifest
        backup_container.upload_blob(layout.rows_blob(orphan, "users"), b"partial")

    report = prune_backups(backup_container, retention_days=35, now=NOW)

    # Chains whose newest member is older than 35 days go (days 36..40); day 35's full backup
    # is itself older than the cutoff but stays, because its incrementals are within it.
    expected_deleted = sorted(i for day in range(36, 41) for i in chains[day])
    assert report.deleted == expected_deleted
    remaining = [b.backup_id for b in list_backups(backup_container)]
    assert sorted(remaining) == sorted(i for day in range(0, 36) for i in chains[day])
    for backup_id in expected_deleted:
        assert not list(backup_container.list_blobs(name_starts_with=layout.data_prefix(backup_id)))
    assert report.orphans_deleted == [orphan_old]
    assert list(backup_container.list_blobs(name_starts_with=layout.data_prefix(orphan_new)))


def test_the_newest_full_backup_and_its_incrementals_are_never_pruned(backup_container) -> None:
    chains = _chains(backup_container, range(50, 44, -1))

    report = prune_backups(backup_container, retention_days=35, now=NOW)

    assert sorted(report.kept) == sorted(chains[45])
    assert [b.backup_id for b in list_backups(backup_container)] == chains[45]
