"""What goes wrong: storage lost mid-backup, a tampered blob, two backups at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg2
import pytest
from azure.storage.blob import BlobServiceClient

from shared.backup import layout
from shared.backup.locks import BACKUP_LOCK, job_lock
from shared.backup.restore import BackupIntegrityError, restore_chain
from shared.backup.retention import prune_backups
from shared.backup.stored_backups import resolve_chain
from shared.backup.verify import verify_chain
from shared.backup.writer import run_backup
from tests.fixtures.backup import (
    backup_id_of,
    data_blob,
    make_changes,
    manifest_of,
    public_tables,
)

pytestmark = pytest.mark.integration

DEAD_RUN = "full-20260101T000000Z-dead00"


def _runs(url: str) -> list[tuple[str, str, str | None]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT backup_id, status, error FROM ops_backup_runs ORDER BY started_at")
            return cur.fetchall()
    finally:
        conn.close()


def test_storage_stopped_mid_backup_leaves_no_manifest_and_the_next_run_succeeds(
    populated_database_url: str, azurite, backup_container
) -> None:
    # No retries, so losing the storage fails the upload at once.
    client = BlobServiceClient.from_connection_string(azurite.connection_string, retry_total=0)
    container = client.get_container_client(backup_container.container_name)

    def stop_storage_after_two_tables(event: str, **fields) -> None:
        if event == "table_done" and fields["index"] == 2:
            azurite.stop()

    try:
        failed = run_backup(
            populated_database_url, container, progress=stop_storage_after_two_tables
        )
    finally:
        if not azurite.is_running:
            azurite.start()

    assert failed.status == "failed"
    assert failed.error
    assert failed.manifest is None
    [(run_id, status, error)] = _runs(populated_database_url)
    assert (run_id, status) == (failed.backup_id, "failed")
    assert error
    manifests = list(backup_container.list_blobs(name_starts_with=layout.MANIFEST_PREFIX))
    assert manifests == []
    with pytest.raises(LookupError):
        resolve_chain(backup_container)

    succeeded = run_backup(populated_database_url, backup_container)

    assert succeeded.status == "succeeded"
    assert [b.backup_id for b in [succeeded]] == [
        m.backup_id for m in resolve_chain(backup_container)
    ]
    assert [s for _, s, _ in _runs(populated_database_url)] == ["failed", "succeeded"]
    # The dead run's leftovers (if any made it) are removed once past the grace period.
    report = prune_backups(
        backup_container,
        retention_days=35,
        now=manifest_of(succeeded).finished_at + timedelta(hours=7),
    )
    assert report.deleted == []
    leftovers = list(
        backup_container.list_blobs(name_starts_with=layout.data_prefix(backup_id_of(failed)))
    )
    assert leftovers == []


def test_tampered_blob_is_refused_before_anything_is_written(
    populated_database_url: str, empty_database_url: str, backup_container
) -> None:
    full = run_backup(populated_database_url, backup_container)
    make_changes(psycopg2.connect(populated_database_url))
    incremental = run_backup(populated_database_url, backup_container, kind="incremental")
    target = data_blob(manifest_of(incremental), "care_logs")
    blob = backup_container.get_blob_client(target.name)
    original = blob.download_blob().readall()
    blob.upload_blob(original[:-8] + b"\x00" * 8, overwrite=True)  # same size, other bytes

    chain = resolve_chain(backup_container)
    with pytest.raises(BackupIntegrityError, match="care_logs"):
        restore_chain(backup_container, chain, empty_database_url)

    assert public_tables(empty_database_url) == []  # not even the schema was created
    report = verify_chain(backup_container, chain)
    assert [check.blob for check in report.failures] == [target.name]
    assert verify_chain(backup_container, chain[:1]).ok
    assert chain[0].backup_id == full.backup_id


def test_two_overlapping_backups_one_runs_one_skips(
    populated_database_url: str, backup_container
) -> None:
    first_started = threading.Event()
    release_first = threading.Event()
    results = {}

    def hold(event: str, **_fields) -> None:
        if event == "backup_started":
            first_started.set()
            assert release_first.wait(30)

    def first() -> None:
        results["first"] = run_backup(populated_database_url, backup_container, progress=hold)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_started.wait(30)
        second = run_backup(populated_database_url, backup_container)
    finally:
        release_first.set()
        thread.join(60)

    assert second.status == "skipped"
    assert second.backup_id is None
    assert results["first"].status == "succeeded"
    assert [status for _, status, _ in _runs(populated_database_url)] == ["succeeded"]


def test_job_lock_is_exclusive_and_released(populated_database_url: str) -> None:
    with job_lock(populated_database_url, BACKUP_LOCK) as first:
        with job_lock(populated_database_url, BACKUP_LOCK) as second:
            assert first.acquired
            assert not second.acquired
        with job_lock(populated_database_url, "another_job") as other:
            assert other.acquired
    with job_lock(populated_database_url, BACKUP_LOCK) as again:
        assert again.acquired


def test_a_run_left_running_by_a_dead_worker_is_marked_failed(
    populated_database_url: str, backup_container
) -> None:
    conn = psycopg2.connect(populated_database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO ops_backup_runs (backup_id, kind, blob_prefix) "
                "VALUES (%s, 'full', %s)",
                (DEAD_RUN, layout.data_prefix(DEAD_RUN)),
            )
        conn.commit()
    finally:
        conn.close()

    assert run_backup(populated_database_url, backup_container).status == "succeeded"

    runs = {run_id: (status, error) for run_id, status, error in _runs(populated_database_url)}
    status, error = runs[DEAD_RUN]
    assert status == "failed"
    assert error is not None
    assert "abandoned" in error
