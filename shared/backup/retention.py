"""Pruning backups older than the retention period, a whole chain at a time.

An incremental is useless without its full backup and every incremental before it, so chains
(a full backup and the incrementals built on it) are kept or pruned as a unit: a chain goes when
its newest member is older than the cutoff, so every point in the retention window stays
restorable. The newest full backup's chain is never pruned, however old. Leftovers of runs
that died before writing a manifest are deleted after a grace period. A manifest is deleted
before its data, so a half-pruned backup never looks complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.backup import layout
from shared.backup.stored_backups import StoredBackup, list_backups
from shared.observability import get_logger

log = get_logger("backup.retention")

ORPHAN_GRACE = timedelta(hours=6)


@dataclass
class PruneReport:
    cutoff: datetime
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    orphans_deleted: list[str] = field(default_factory=list)


def plan_prune(
    backups: list[StoredBackup], *, retention_days: int, now: datetime
) -> tuple[list[str], list[str]]:
    """(ids to delete, ids to keep) under the chain rule above. Pure: no I/O."""
    cutoff = now - timedelta(days=retention_days)
    fulls = [b for b in backups if b.kind == "full"]
    newest_full = max(fulls, key=lambda b: (b.snapshot_at, b.backup_id)) if fulls else None
    chains: dict[str, list[StoredBackup]] = {}
    for backup in backups:
        base = backup.backup_id if backup.kind == "full" else (backup.base_backup_id or "")
        chains.setdefault(base, []).append(backup)
    delete: list[str] = []
    keep: list[str] = []
    for base, members in chains.items():
        newest = max(member.snapshot_at for member in members)
        protected = newest_full is not None and base == newest_full.backup_id
        target = keep if protected or newest >= cutoff else delete
        target.extend(member.backup_id for member in members)
    return sorted(delete), sorted(keep)


def prune_backups(
    container: Any,
    *,
    retention_days: int,
    now: datetime | None = None,
    orphan_grace: timedelta = ORPHAN_GRACE,
) -> PruneReport:
    """Delete expired chains and dead runs' leftovers from the container."""
    now = now or datetime.now(UTC)
    backups = list_backups(container)
    delete, keep = plan_prune(backups, retention_days=retention_days, now=now)
    report = PruneReport(cutoff=now - timedelta(days=retention_days), kept=keep)
    for backup_id in delete:
        container.delete_blob(layout.manifest_blob(backup_id))
        _delete_prefix(container, layout.data_prefix(backup_id))
        report.deleted.append(backup_id)
    complete = {b.backup_id for b in backups}
    for prefix in container.walk_blobs(name_starts_with=layout.DATA_PREFIX, delimiter="/"):
        backup_id = prefix.name[len(layout.DATA_PREFIX) :].rstrip("/")
        if backup_id in complete or not layout.is_backup_id(backup_id):
            continue
        _, started = layout.parse_backup_id(backup_id)
        if started < now - orphan_grace:
            _delete_prefix(container, layout.data_prefix(backup_id))
            report.orphans_deleted.append(backup_id)
    log.info(
        "backups_pruned",
        deleted=len(report.deleted),
        kept=len(report.kept),
        orphans_deleted=len(report.orphans_deleted),
        cutoff=report.cutoff.isoformat(),
    )
    return report


def _delete_prefix(container: Any, prefix: str) -> None:
    for blob in container.list_blobs(name_starts_with=prefix):
        container.delete_blob(blob.name)
