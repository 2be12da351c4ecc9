"""Backups, restores and restore drills are audited (review item 6: exports left no audit event).

Each job copies every patient's data, so each appends exactly one `audit_events` row with
patient_id NULL: backups and drills `export` (resource_type `backup` / `restore_drill`) into the
live database, a restore `update` (resource_type `database_restore`) into the restored database
after its load. The actor is the admin (API), the timer (actor_role `timer`, detail `timer`) or
the operator (actor_role `operator`, detail `os_user`). Details never carry a URL or password.
"""

from __future__ import annotations

import getpass
import json
import time
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extras
import pytest

from shared.audit import SystemActor
from shared.backup.writer import run_backup
from tests.factories import Parties
from tests.fixtures.backup import make_changes
from tests.manage_cli import logged_events, run_manage, service_env

pytestmark = pytest.mark.integration

SECRET = "not-a-real-db-password"
EXPORT_RESOURCES = ("backup", "database_restore", "restore_drill")


def _with_password(url: str) -> str:
    """The same URL with a password (trust authentication ignores it): it must never leak."""
    parts = urlsplit(url)
    assert parts.username
    assert not parts.password
    return parts._replace(netloc=parts.netloc.replace("@", f":{SECRET}@", 1)).geturl()


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _events(url: str, resource_id: str | None = None) -> list[dict[str, Any]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(
                "SELECT event_id, actor_user_id, actor_role, action, patient_id, resource_type,"
                " resource_id, request_id, host(client_ip) AS client_ip, detail"
                " FROM audit_events WHERE resource_type = ANY(%s)"
                " AND (%s::text IS NULL OR resource_id = %s) ORDER BY event_id",
                (list(EXPORT_RESOURCES), resource_id, resource_id),
            )
            rows = [dict(row) for row in cur.fetchall()]
        conn.rollback()
        return rows
    finally:
        conn.close()


def _count(url: str, table: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            row = cur.fetchone()
        conn.rollback()
        assert row is not None
        return int(row[0])
    finally:
        conn.close()


def _assert_nothing_secret(event: dict[str, Any], *urls: str) -> None:
    text = json.dumps(event, default=str)
    assert SECRET not in text
    assert "postgresql://" not in text
    assert "AccountKey" not in text
    for url in urls:
        assert url not in text


def _assert_system_event(event: dict[str, Any], *, role: str, who: dict[str, str]) -> None:
    assert event["actor_user_id"] is None
    assert event["actor_role"] == role
    assert event["patient_id"] is None
    assert event["request_id"] is None
    assert event["client_ip"] is None
    for key, value in who.items():
        assert event["detail"][key] == value


def test_timer_backups_and_the_timer_drill_each_write_one_event(
    populated_database_url: str, azurite, backup_container
) -> None:
    source = _with_password(populated_database_url)
    env = service_env(source, azurite, BACKUP_CONTAINER=backup_container.container_name)
    patients = _count(populated_database_url, "patients")

    nightly = run_manage("run-timer", "nightly_backup", env=env)
    assert nightly.returncode == 0, nightly.stderr
    [done] = logged_events(nightly.stderr, "nightly_backup_completed")
    [full] = _events(populated_database_url)
    _assert_system_event(full, role="timer", who={"timer": "nightly_backup"})
    assert (full["action"], full["resource_type"]) == ("export", "backup")
    assert full["resource_id"] == done["backup_id"]
    detail = full["detail"]
    assert (detail["kind"], detail["outcome"], detail["requested_by"]) == (
        "full",
        "succeeded",
        "timer",
    )
    assert detail["database"] == _database_name(populated_database_url)
    assert detail["tables"]["patients"] == patients
    assert detail["tables"]["care_logs"] == _count(populated_database_url, "care_logs")
    assert detail["rows"] == sum(detail["tables"].values())
    _assert_nothing_secret(full, source)

    make_changes(psycopg2.connect(populated_database_url))
    incremental = run_manage("run-timer", "incremental_backup", env=env)
    assert incremental.returncode == 0, incremental.stderr
    [done] = logged_events(incremental.stderr, "incremental_backup_completed")
    assert done["kind"] == "incremental"
    events = _events(populated_database_url)
    assert [e["resource_id"] for e in events] == [full["resource_id"], done["backup_id"]]
    event = events[-1]
    _assert_system_event(event, role="timer", who={"timer": "incremental_backup"})
    assert event["action"] == "export"
    assert (event["detail"]["kind"], event["detail"]["outcome"]) == ("incremental", "succeeded")
    assert event["detail"]["base_backup_id"] == full["resource_id"]
    # Only what the incremental copied: the full backup's own event is among its audit rows.
    assert "care_logs" in event["detail"]["tables"]
    assert event["detail"]["tables"]["audit_events"] >= 1
    assert "caregiver_availability" not in event["detail"]["tables"]
    _assert_nothing_secret(event, source)

    drill = run_manage("run-timer", "restore_drill", env=env)
    assert drill.returncode == 0, drill.stderr
    [finished] = logged_events(drill.stderr, "restore_drill_finished")
    assert finished["status"] == "succeeded"
    events = _events(populated_database_url)
    assert len(events) == 3
    event = events[-1]
    _assert_system_event(event, role="timer", who={"timer": "restore_drill"})
    assert (event["action"], event["resource_type"]) == ("export", "restore_drill")
    assert event["resource_id"] == done["backup_id"]
    assert event["detail"]["outcome"] == "succeeded"
    assert event["detail"]["target_database"].startswith("neulbom_drill_")
    assert event["detail"]["target_dropped"] is True
    assert event["detail"]["tables"]["patients"] == _count(populated_database_url, "patients")
    _assert_nothing_secret(event, source)


def test_commands_audit_as_the_operator_and_a_restore_writes_into_its_target(
    populated_database_url: str, empty_database_url: str, azurite, backup_container
) -> None:
    source = _with_password(populated_database_url)
    target = _with_password(empty_database_url)
    env = service_env(source, azurite, BACKUP_CONTAINER=backup_container.container_name)
    operator = {"os_user": getpass.getuser()}

    backup = run_manage("backup", env=env)
    assert backup.returncode == 0, backup.stderr
    [event] = _events(populated_database_url)
    _assert_system_event(event, role="operator", who=operator)
    assert (event["action"], event["detail"]["kind"]) == ("export", "full")
    assert event["detail"]["requested_by"] == "cli"
    assert event["resource_id"] in backup.stdout
    backup_id = event["resource_id"]
    audit_rows_in_backup = event["detail"]["tables"]["audit_events"]
    _assert_nothing_secret(event, source)

    restored = run_manage(
        "restore", "--target", "env:RESTORE_TARGET", env={**env, "RESTORE_TARGET": target}
    )
    assert restored.returncode == 0, restored.stderr
    assert SECRET not in restored.stdout + restored.stderr
    [event] = _events(empty_database_url)
    _assert_system_event(event, role="operator", who=operator)
    assert (event["action"], event["resource_type"]) == ("update", "database_restore")
    assert event["resource_id"] == backup_id
    detail = event["detail"]
    assert detail["chain"] == [backup_id]
    assert detail["target_database"] == _database_name(empty_database_url)
    assert detail["replaced"] is False
    assert detail["tables"]["patients"] == _count(empty_database_url, "patients")
    assert detail["tables"]["audit_events"] == audit_rows_in_backup
    assert _count(empty_database_url, "audit_events") == audit_rows_in_backup + 1
    _assert_nothing_secret(event, source, target)
    [logged] = logged_events(restored.stderr, "restore_audited")
    assert logged["target_database"] == _database_name(empty_database_url)
    # The source's trail is unchanged by the restore: it still holds the backup's event only.
    assert [e["resource_id"] for e in _events(populated_database_url)] == [backup_id]

    # --replace loads the backup's trail over the target's: the new event comes after the load,
    # so the target holds exactly one restore event, this one.
    replaced = run_manage(
        "restore", "--replace", "--target", "env:RESTORE_TARGET",
        env={**env, "RESTORE_TARGET": target},
    )  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    [again] = _events(empty_database_url)
    assert again["detail"]["replaced"] is True  # the first restore's event was replaced
    assert _count(empty_database_url, "audit_events") == audit_rows_in_backup + 1

    # verify-backup checks checksums of stored bytes; it reads no rows and writes no event.
    verified = run_manage("verify-backup", "latest", env=env)
    assert verified.returncode == 0, verified.stderr
    assert len(_events(populated_database_url)) == 1

    drill = run_manage("restore-drill", env=env)
    assert drill.returncode == 0, drill.stderr
    events = _events(populated_database_url)
    assert len(events) == 2
    event = events[-1]
    _assert_system_event(event, role="operator", who=operator)
    assert (event["resource_type"], event["resource_id"]) == ("restore_drill", backup_id)
    _assert_nothing_secret(event, source)


class _StorageDown:
    """A Blob container whose every call fails, as when the storage account is unreachable."""

    container_name = "unreachable"

    def get_blob_client(self, name: str) -> Any:
        raise ConnectionError(f"storage unreachable while writing {name}")

    def list_blobs(self, **_kwargs: Any) -> Any:
        raise ConnectionError("storage unreachable")


def test_a_failed_backup_writes_a_failed_export_event(populated_database_url: str) -> None:
    result = run_backup(
        populated_database_url, _StorageDown(), actor=SystemActor.timer("nightly_backup")
    )

    assert result.status == "failed"
    [event] = _events(populated_database_url)
    _assert_system_event(event, role="timer", who={"timer": "nightly_backup"})
    assert event["resource_id"] == result.backup_id
    assert (event["detail"]["kind"], event["detail"]["outcome"]) == ("full", "failed")
    assert "tables" not in event["detail"]


def test_a_skipped_backup_writes_no_event(populated_database_url: str, backup_container) -> None:
    from shared.backup.locks import BACKUP_LOCK, job_lock

    with job_lock(populated_database_url, BACKUP_LOCK) as held:
        assert held.acquired
        result = run_backup(
            populated_database_url, backup_container, actor=SystemActor.timer("nightly_backup")
        )
    assert result.status == "skipped"
    assert _events(populated_database_url) == []


def test_a_backup_started_by_an_admin_names_the_admin(
    app_server, parties: Parties, database_url: str
) -> None:
    started = app_server.request("POST", "api/admin/backups", headers=parties.admin.headers)
    assert started.status_code == 202, started.text
    backup_id = started.json()["backup_id"]

    deadline = time.monotonic() + 60
    while not (events := _events(database_url, backup_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    [event] = events
    assert event["actor_user_id"] == parties.admin.user_id
    assert event["actor_role"] == "admin"
    assert (event["action"], event["resource_type"], event["patient_id"]) == (
        "export",
        "backup",
        None,
    )
    assert event["request_id"] == started.headers["X-Request-ID"]
    assert event["detail"]["outcome"] == "succeeded"
    assert event["detail"]["requested_by"] == f"admin:{parties.admin.user_id}"
    assert "timer" not in event["detail"]
    assert "os_user" not in event["detail"]
    _assert_nothing_secret(event, database_url)
