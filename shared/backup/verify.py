"""Checking a backup's blobs against its manifest: size and sha256 of every stored byte.

A restore verifies the whole chain before it writes anything to the target; `verify-backup`
does the same without restoring. Blobs are read in parallel and, for a restore, spooled to a
local directory so that what is loaded is exactly what was checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.backup.manifest import BlobEntry, Manifest

VERIFY_THREADS = 4


@dataclass(frozen=True)
class BlobCheck:
    backup_id: str
    blob: str
    expected_sha256: str
    actual_sha256: str | None
    expected_bytes: int
    actual_bytes: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.actual_sha256 == self.expected_sha256
            and self.actual_bytes == self.expected_bytes
        )

    def describe(self) -> str:
        if self.error:
            return f"{self.blob}: {self.error}"
        if self.actual_bytes != self.expected_bytes:
            return f"{self.blob}: {self.actual_bytes} bytes, manifest says {self.expected_bytes}"
        return f"{self.blob}: sha256 {self.actual_sha256}, manifest says {self.expected_sha256}"


@dataclass
class VerifyReport:
    checks: list[BlobCheck] = field(default_factory=list)
    spooled: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[BlobCheck]:
        return [check for check in self.checks if not check.ok]

    @property
    def bytes(self) -> int:
        return sum(check.actual_bytes or 0 for check in self.checks)


def verify_chain(
    container: Any,
    chain: list[Manifest],
    *,
    spool_dir: Path | None = None,
    progress: Callable[..., None] | None = None,
) -> VerifyReport:
    """Read every blob of every manifest in `chain`; keep local copies under `spool_dir`."""
    jobs = [(manifest.backup_id, blob) for manifest in chain for blob in manifest.blobs]
    report = VerifyReport()

    def check(job: tuple[str, BlobEntry]) -> BlobCheck:
        backup_id, entry = job
        target = None
        if spool_dir is not None:
            target = spool_dir / entry.name.replace("/", "__")
        result = _check_blob(container, backup_id, entry, target)
        if progress is not None:
            progress("blob_verified", blob=entry.name, ok=result.ok, bytes=result.actual_bytes)
        return result

    with ThreadPoolExecutor(max_workers=VERIFY_THREADS, thread_name_prefix="verify") as pool:
        for (_, entry), result in zip(jobs, pool.map(check, jobs), strict=True):
            report.checks.append(result)
            if spool_dir is not None and result.ok:
                report.spooled[entry.name] = spool_dir / entry.name.replace("/", "__")
    return report


def _check_blob(container: Any, backup_id: str, entry: BlobEntry, target: Path | None) -> BlobCheck:
    digest = hashlib.sha256()
    size = 0
    try:
        stream = container.get_blob_client(entry.name).download_blob()
        handle = target.open("wb") if target is not None else None
        try:
            for chunk in stream.chunks():
                digest.update(chunk)
                size += len(chunk)
                if handle is not None:
                    handle.write(chunk)
        finally:
            if handle is not None:
                handle.close()
    except Exception as exc:  # missing blob, storage down: a failed check, reported as such
        return BlobCheck(
            backup_id,
            entry.name,
            entry.sha256,
            None,
            entry.bytes,
            None,
            error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
        )
    return BlobCheck(backup_id, entry.name, entry.sha256, digest.hexdigest(), entry.bytes, size)
