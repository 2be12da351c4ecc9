"""The operations around backups: restore drill, health check, maintenance, the admin service,
the timers and the command line, each run the way production or an operator runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from shared.backup import service
from shared.backup.drill import run_restore_drill
from shared.backup.writer import run_backup
from shared.operations.health_check import health_check
from shared.operations.maintenance import run_maintenance
from shared.unit_of_work import UnitOfWork
from tests.fixtures.backup import data_blob, make_changes, manifest_of
from tests.manage_cli import logged_events, run_manage, service_env

pytestmark = pytest.mark.integration


def _query(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


@pytest.fixture
def ops_env(monkeypatch, populated_database_url, azurite, backup_container) -> dict[str, str]:
    values = {
        "APP_ENV": "development",
        "DATABASE_URL": populated_database_url,
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "BACKUP_CONTAINER": backup_container.container_name,
        "LOG_LEVEL": "INFO",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_restore_drill_verifies_the_newest_chain_and_records_the_rto(
    ops_env, populated_database_url: str, backup_container
) -> None:
    run_backup(populated_database_url, backup_container)
    make_changes(psycopg2.connect(populated_database_url))
    incremental = run_backup(populated_database_url, backup_container, kind="incremental")

    record = run_restore_drill(populated_database_url, backup_container)

    assert record["status"] == "succeeded", record
    assert record["backup_id"] == incremental.backup_id
    assert record["mismatches"] == []
    rto_seconds = record["rto_seconds"]
    assert rto_seconds is not None
    assert rto_seconds > 0
    assert record["rows"] == sum(t.table_rows for t in manifest_of(incremental).tables)
    assert _query(populated_database_url, "SELECT datname FROM pg_database "
                  "WHERE datname LIKE 'neulbom_drill_%%'") == []  # fmt: skip
    items, total = _list_backups(limit=10)
    assert total == 2
    newest = items[0]
    assert newest["backup_id"] == incremental.backup_id
    assert newest["kind"] == "incremental"
    assert newest["status"] == "succeeded"
    assert newest["bytes"] > 0
    assert newest["duration_s"] >= 0
    assert newest["latest_drill"]["status"] == "succeeded"
    assert newest["latest_drill"]["rto_seconds"] == record["rto_seconds"]
    assert items[1]["latest_drill"] is None


def test_restore_drill_fails_on_a_tampered_backup(
    ops_env, populated_database_url: str, backup_container
) -> None:
    full = run_backup(populated_database_url, backup_container)
    name = data_blob(manifest_of(full), "users").name
    backup_container.get_blob_client(name).upload_blob(b"tampered", overwrite=True)

    record = run_restore_drill(populated_database_url, backup_container)

    assert record["status"] == "failed"
    error = record["error"]
    assert error is not None
    assert "users" in error
    assert record["rto_seconds"] is None


def test_health_check_flags_stale_backups_and_stores_a_snapshot(
    ops_env, populated_database_url: str, backup_container
) -> None:
    first = health_check()
    assert "backups: no full backup has succeeded yet" in first["problems"]

    result = service.nightly_backup(requested_by="api")
    assert result.status == "succeeded"
    fresh = health_check()
    assert not any(p.startswith("backups") for p in fresh["problems"])
    assert fresh["backups"]["latest_full_id"] == result.backup_id

    _query(
        populated_database_url,
        "UPDATE ops_backup_runs SET snapshot_at = %s",
        (datetime.now(UTC) - timedelta(hours=27),),
    )
    stale = health_check()
    assert any("newest full backup is 27.0 h old" in p for p in stale["problems"])
    assert any("min old (limit 30 min)" in p for p in stale["problems"])
    with UnitOfWork.for_job(readonly=True) as uow:
        overview = service.backup_overview(uow)
    assert overview["health"]["problems"] == stale["problems"]
    assert overview["latest_full_age_s"] > 26 * 3600
    snapshots = _query(populated_database_url, "SELECT count(*) FROM ops_health_snapshots")
    assert snapshots == [(3,)]


def test_maintenance_prunes_expired_rows_but_never_young_audit_events(
    ops_env, populated_database_url: str
) -> None:
    _query(
        populated_database_url,
        """
        INSERT INTO login_attempts (email_normalized, succeeded, attempted_at)
        VALUES ('old@example.com', false, now() - interval '2 days'),
               ('new@example.com', false, now());
        INSERT INTO ops_rate_limits (subject, action, window_start, hits)
        VALUES ('user:1', 'ai', now() - interval '3 days', 5),
               ('user:1', 'ai', date_trunc('hour', now()), 1);
        INSERT INTO audit_events (occurred_at, action, resource_type)
        VALUES (now() - interval '3 years', 'view', 'old'),
               (now() - interval '23 months', 'view', 'young');
        DELETE FROM care_logs WHERE care_log_id %% 3 = 0;
        """,
    )

    report = run_maintenance(populated_database_url)

    assert report["status"] == "succeeded"
    assert report["pruned"]["audit_events"] == 1
    assert report["pruned"]["login_attempts"] >= 1
    assert report["pruned"]["ops_rate_limits"] == 1
    assert _query(populated_database_url, "SELECT count(*) FROM ops_rate_limits") == [(1,)]
    assert {"care_logs", "audit_events"} <= set(report["vacuumed"])
    left = _query(
        populated_database_url,
        "SELECT resource_type FROM audit_events WHERE resource_type IN ('old', 'young')",
    )
    assert left == [("young",)]
    emails = _query(
        populated_database_url,
        "SELECT email_normalized FROM login_attempts WHERE email_normalized LIKE '%%@example.com' "
        "AND email_normalized IN ('old@example.com', 'new@example.com')",
    )
    assert emails == [("new@example.com",)]
    analyzed = _query(
        populated_database_url,
        "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables "
        "WHERE relname = 'care_logs'",
    )
    assert analyzed == [(True, True)]


def test_timers_and_commands_as_operators_run_them(
    populated_database_url: str, empty_database_url: str, azurite, backup_container
) -> None:
    env = service_env(
        populated_database_url, azurite, BACKUP_CONTAINER=backup_container.container_name
    )

    nightly = run_manage("run-timer", "nightly_backup", env=env)
    assert nightly.returncode == 0, nightly.stderr
    [done] = logged_events(nightly.stderr, "nightly_backup_completed")
    assert (done["status"], done["kind"]) == ("succeeded", "full")

    make_changes(psycopg2.connect(populated_database_url))
    incremental = run_manage("backup", "--incremental", env=env)
    assert incremental.returncode == 0, incremental.stderr
    assert "incremental backup incr-" in incremental.stdout
    assert "care_logs: upsert" in incremental.stderr  # progress lines

    listed = run_manage("list-backups", env=env)
    assert listed.returncode == 0, listed.stderr
    assert done["backup_id"] in listed.stdout
    assert "2 complete backups" in listed.stdout

    verified = run_manage("verify-backup", "latest", env=env)
    assert verified.returncode == 0, verified.stderr
    assert "all match" in verified.stdout

    restored = run_manage(
        "restore", "--backup", "latest", "--target", "env:RESTORE_TARGET",
        env={**env, "RESTORE_TARGET": empty_database_url},
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    care_logs = next(line for line in restored.stdout.splitlines() if line.startswith("care_logs"))
    expected, actual = care_logs.split()[1:3]
    assert expected == actual
    assert "MISMATCH" not in restored.stdout

    again = run_manage("restore", "--target", empty_database_url, env=env)
    assert again.returncode == 4
    assert "not empty" in again.stderr

    health = run_manage("run-timer", "health_check", env=env)
    assert health.returncode == 0, health.stderr
    [checked] = logged_events(health.stderr, "health_check_completed")
    assert checked["latest_full_age_s"] < 600
    assert not any(p.startswith("backups") for p in checked["problems"])


def _list_backups(*, limit: int) -> tuple[list[dict], int]:
    with UnitOfWork.for_job(readonly=True) as uow:
        return service.list_backups(uow, limit=limit, offset=0)
