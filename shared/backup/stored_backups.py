"""Reading backups back from Blob: the complete ones, and the chain a restore needs.

Blob is the source of truth here, not the `ops_backup_runs` table: after a disaster the
database that held that table may be the thing being restored. A backup exists for these
functions only if its manifest does.

Whoever can write the container can write blobs, so nothing a manifest says is followed before
its signature is checked (shared.backup.signing), and a chain walk checks every step: the ids
it follows have the id format and the kind they claim, each predecessor is older and builds on
the same full backup, no backup is visited twice (a cycle), and a chain holds at most
`MAX_CHAIN_INCREMENTALS` incrementals (the writer starts a full backup before that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.backup import layout
from shared.backup.manifest import Manifest, ManifestError
from shared.backup.signing import read_manifest, signing_key

#: Longest chain a restore follows: 2 days of 15-minute incrementals, with room to spare.
#: The writer makes a full backup instead of an incremental that would go past it.
MAX_CHAIN_INCREMENTALS = 200


@dataclass(frozen=True)
class ManifestKey:
    """How stored manifests are checked: the HMAC key, and whether unsigned ones are accepted
    (`manage.py restore --trust-unsigned`; a wrong signature never is)."""

    key: bytes
    trust_unsigned: bool = False

    @classmethod
    def configured(cls, *, trust_unsigned: bool = False) -> ManifestKey:
        """The `BackupSigningKey` secret of this environment."""
        return cls(signing_key(), trust_unsigned=trust_unsigned)


class BackupNotFoundError(LookupError):
    """No complete backup matches what was asked for."""


@dataclass(frozen=True)
class StoredBackup:
    """A complete backup as listed from Blob (its manifest's metadata)."""

    backup_id: str
    kind: str
    base_backup_id: str | None
    snapshot_at: datetime
    started_at: datetime
    rows: int | None = None
    bytes: int | None = None


def list_backups(container: Any) -> list[StoredBackup]:
    """Every backup that has a manifest, oldest first."""
    found = []
    for blob in container.list_blobs(name_starts_with=layout.MANIFEST_PREFIX, include=["metadata"]):
        backup_id = layout.backup_id_of_manifest(blob.name)
        if backup_id is None:
            continue
        kind, started = layout.parse_backup_id(backup_id)
        metadata = blob.metadata or {}
        if "snapshot_at" in metadata:
            snapshot_at = datetime.fromisoformat(metadata["snapshot_at"])
            base = metadata.get("base_backup_id") or None
        else:  # written by hand or by an older tool: read the manifest itself
            # Listing trusts the manifest no more than the metadata it stands in for: a
            # restore reads it again through the signature check.
            manifest = Manifest.from_json(_download_manifest(container, backup_id))
            snapshot_at, base = manifest.snapshot_at, manifest.base_backup_id
        found.append(
            StoredBackup(
                backup_id=backup_id,
                kind=kind,
                base_backup_id=base,
                snapshot_at=snapshot_at.astimezone(UTC),
                started_at=started,
                rows=_int(metadata.get("rows")),
                bytes=_int(metadata.get("bytes")),
            )
        )
    return sorted(found, key=lambda b: (b.snapshot_at, b.backup_id))


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _download_manifest(container: Any, backup_id: str) -> bytes:
    from azure.core.exceptions import ResourceNotFoundError

    if not layout.is_backup_id(backup_id):
        raise ManifestError(f"not a backup id: {backup_id!r}")
    try:
        raw: bytes = (
            container.get_blob_client(layout.manifest_blob(backup_id)).download_blob().readall()
        )
    except ResourceNotFoundError:
        raise BackupNotFoundError(
            f"backup {backup_id} has no manifest: it is unknown or incomplete"
        ) from None
    return raw


def load_manifest(container: Any, backup_id: str, key: ManifestKey | None = None) -> Manifest:
    """The manifest stored for `backup_id`, after its signature checks out (`key`: the
    configured one when not given)."""
    raw = _download_manifest(container, backup_id)
    key = key or ManifestKey.configured()
    manifest = read_manifest(raw, key.key, name=backup_id, trust_unsigned=key.trust_unsigned)
    if manifest.backup_id != backup_id:
        raise ManifestError(f"manifest of {backup_id} names {manifest.backup_id}")
    return manifest


def resolve_chain(
    container: Any,
    backup: str = "latest",
    until: datetime | None = None,
    *,
    key: ManifestKey | None = None,
) -> list[Manifest]:
    """The manifests to restore, full backup first, for `backup` ("latest" or an id).

    - "latest": the newest backup (at or before `until`, when given) and what it builds on.
    - a full backup's id: that backup; with `until`, also its incrementals up to `until`.
    - an incremental's id: its full backup and the incrementals up to and including it.
    """
    stored = list_backups(container)
    if until is not None:
        until = until.astimezone(UTC) if until.tzinfo else until.replace(tzinfo=UTC)
    if backup == "latest":
        candidates = [b for b in stored if until is None or b.snapshot_at <= until]
        if not candidates:
            when = f" at or before {until.isoformat()}" if until else ""
            raise BackupNotFoundError(f"no complete backup{when}")
        target = candidates[-1].backup_id
    else:
        if not layout.is_backup_id(backup):
            raise BackupNotFoundError(f"not a backup id: {backup!r}")
        target = backup
        if until is not None and layout.parse_backup_id(backup)[0] == "full":
            members = [
                b
                for b in stored
                if backup in (b.backup_id, b.base_backup_id) and b.snapshot_at <= until
            ]
            if not members:
                raise BackupNotFoundError(f"backup {backup} is newer than {until.isoformat()}")
            target = members[-1].backup_id
    return walk_chain(container, target, key=key)


def walk_chain(container: Any, target: str, *, key: ManifestKey | None = None) -> list[Manifest]:
    """`target`'s manifest and its predecessors back to the full backup, oldest first.

    Every manifest's signature is checked before anything in it is followed; a cycle, a chain
    longer than MAX_CHAIN_INCREMENTALS or a step that does not fit is a ManifestError.
    """
    key = key or ManifestKey.configured()
    chain = [load_manifest(container, target, key)]
    seen = {target}
    while chain[-1].kind == "incremental":
        current = chain[-1]
        if not current.previous_backup_id or not current.base_backup_id:
            raise ManifestError(f"incremental {current.backup_id} names no predecessor")
        if current.previous_backup_id in seen:
            raise ManifestError(
                f"the chain of {target} loops: {current.backup_id} names "
                f"{current.previous_backup_id} as its predecessor again"
            )
        if len(chain) > MAX_CHAIN_INCREMENTALS:
            raise ManifestError(
                f"the chain of {target} has more than {MAX_CHAIN_INCREMENTALS} incrementals; "
                "restore an earlier backup or take a new full backup"
            )
        seen.add(current.previous_backup_id)
        try:
            previous = load_manifest(container, current.previous_backup_id, key)
        except BackupNotFoundError:
            raise BackupNotFoundError(
                f"backup {current.backup_id} needs {current.previous_backup_id}, which is "
                "missing or incomplete"
            ) from None
        _check_step(previous, current)
        chain.append(previous)
    chain.reverse()
    return chain


def _check_step(previous: Manifest, current: Manifest) -> None:
    """`current` (an incremental) may follow `previous`."""
    if previous.kind == "full" and previous.backup_id != current.base_backup_id:
        raise ManifestError(f"{current.backup_id} does not build on {previous.backup_id}")
    if previous.kind == "incremental" and previous.base_backup_id != current.base_backup_id:
        raise ManifestError(
            f"{current.backup_id} and its predecessor {previous.backup_id} build on "
            "different full backups"
        )
    if previous.snapshot_at >= current.snapshot_at:
        raise ManifestError(
            f"{current.backup_id} names {previous.backup_id} as its predecessor, which is not older"
        )
