"""Backups on demand as queue jobs, in process: the service and the queue-triggered functions
called the way the Functions host calls them, on a real queue (Azurite), database and Blob.

The served, two-instance version (a worker killed mid-backup, the host's redelivery and poison
queue) is test_backup_jobs_instances.py.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from typing import Any

import pytest
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient

from functions.queues import backup_job, backup_job_poison
from models.vocabularies import Role
from shared.auth.principal import Actor, Principal
from shared.backup import layout, service
from shared.backup.locks import BACKUP_LOCK, job_lock
from shared.backup.restore import restore_chain
from shared.backup.stored_backups import resolve_chain
from shared.backup.writer import run_backup
from shared.errors import ConflictError
from shared.unit_of_work import UnitOfWork
from tests.factories import cursor, make_user
from tests.fixtures.backup import table_checksums

pytestmark = pytest.mark.integration


@pytest.fixture
def job_env(monkeypatch, populated_database_url, azurite, backup_container) -> dict[str, str]:
    """The app in process on the populated database, Azurite and a queue of this test's own."""
    values = {
        "APP_ENV": "development",
        "DATABASE_URL": populated_database_url,
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "BACKUP_CONTAINER": backup_container.container_name,
        "BACKUP_QUEUE": f"jobs-{secrets.token_hex(4)}",
        "BACKUP_JOB_LEASE_SECONDS": "3",
        "BACKUP_JOB_RETRY_SECONDS": "1",
        "LOG_LEVEL": "INFO",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def admin(populated_database_url: str) -> Actor:
    with cursor(populated_database_url) as cur:
        user = make_user(cur, "admin")
    principal = Principal(user.user_id, Role.ADMIN, "admin@example.com", "관리자")
    return Actor(principal, request_id="req-backup-job", client_ip="203.0.113.7")


def _queue(azurite, name: str) -> QueueClient:
    return QueueClient.from_connection_string(azurite.connection_string, name)


def _submit(admin: Actor) -> dict[str, Any]:
    uow = UnitOfWork(admin)
    try:
        run = service.submit_full_backup(uow, requested_by="admin:test", actor=admin)
        uow.commit()
    except BaseException:
        uow.rollback()
        raise
    return dict(run)


def _receive(azurite, name: str) -> QueueMessage:
    """The next message as the host hands it to the function (base64-decoded body)."""
    [stored] = list(_queue(azurite, name).receive_messages(max_messages=1, visibility_timeout=30))
    return QueueMessage(
        id=stored.id,
        body=base64.b64decode(stored.content),
        dequeue_count=stored.dequeue_count,
        pop_receipt=stored.pop_receipt,
    )


def _run(url: str, backup_id: str) -> dict[str, Any]:
    with cursor(url) as cur:
        cur.execute("SELECT * FROM ops_backup_runs WHERE backup_id = %s", (backup_id,))
        return dict(cur.fetchone())


def _execute(url: str, statement: str, params: tuple = ()) -> None:
    with cursor(url) as cur:
        cur.execute(statement, params)


def _export_events(url: str, backup_id: str) -> list[dict[str, Any]]:
    with cursor(url) as cur:
        cur.execute(
            "SELECT actor_user_id, actor_role, request_id, host(client_ip) AS client_ip, detail"
            " FROM audit_events WHERE resource_type = 'backup' AND resource_id = %s",
            (backup_id,),
        )
        return [dict(row) for row in cur.fetchall()]


def test_a_job_is_recorded_queued_and_its_message_carries_only_the_id(
    job_env, azurite, admin, populated_database_url
) -> None:
    run = _submit(admin)

    assert run["status"] == "queued"
    assert run["kind"] == "full"
    assert run["queued_at"] is not None
    assert run["attempts"] == 0
    row = _run(populated_database_url, run["backup_id"])
    assert row["status"] == "queued"
    assert row["finished_at"] is None
    assert row["requested_actor"] == {
        "user_id": admin.user_id,
        "role": "admin",
        "request_id": "req-backup-job",
        "client_ip": "203.0.113.7",
    }
    [stored] = list(_queue(azurite, job_env["BACKUP_QUEUE"]).peek_messages(max_messages=5))
    assert json.loads(base64.b64decode(stored.content)) == {"job_id": run["backup_id"]}


def test_the_worker_runs_the_job_once_and_a_redelivered_message_changes_nothing(
    job_env, azurite, admin, populated_database_url, backup_container
) -> None:
    run = _submit(admin)
    message = _receive(azurite, job_env["BACKUP_QUEUE"])

    backup_job(message)

    done = _run(populated_database_url, run["backup_id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 1
    assert done["worker"]
    assert done["lease_expires_at"] is None
    assert done["rows"] > 0
    [event] = _export_events(populated_database_url, run["backup_id"])
    assert (event["actor_user_id"], event["actor_role"]) == (admin.user_id, "admin")
    assert (event["request_id"], event["client_ip"]) == ("req-backup-job", "203.0.113.7")
    assert event["detail"]["requested_by"] == "admin:test"
    blobs = sorted(b.name for b in backup_container.list_blobs())

    backup_job(message)  # the same message again: the host could not delete it in time

    assert _run(populated_database_url, run["backup_id"]) == done
    assert len(_export_events(populated_database_url, run["backup_id"])) == 1
    assert sorted(b.name for b in backup_container.list_blobs()) == blobs
    assert service.run_backup_job(run["backup_id"]) == "settled"


def test_a_job_whose_worker_died_is_started_over_as_the_same_row(
    job_env, azurite, admin, populated_database_url, backup_container, empty_database_url
) -> None:
    run = _submit(admin)
    backup_id = run["backup_id"]
    # The first worker claimed it, wrote a table blob and died: no lock, a lapsed lease.
    _execute(
        populated_database_url,
        "UPDATE ops_backup_runs SET status = 'running', attempts = 1, worker = 'gone:1',"
        " lease_expires_at = now() - interval '1 minute' WHERE backup_id = %s",
        (backup_id,),
    )
    leftover = f"{layout.data_prefix(backup_id)}leftover.copy.gz"
    backup_container.get_blob_client(leftover).upload_blob(b"partial")
    items, _ = _list()
    assert next(i for i in items if i["backup_id"] == backup_id)["status"] == "abandoned"
    expected = table_checksums(populated_database_url)  # before the job's own audit event

    backup_job(_receive(azurite, job_env["BACKUP_QUEUE"]))

    done = _run(populated_database_url, backup_id)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert done["worker"] != "gone:1"
    assert not backup_container.get_blob_client(leftover).exists()
    assert len(_export_events(populated_database_url, backup_id)) == 1
    chain = resolve_chain(backup_container)
    assert chain[-1].backup_id == backup_id
    restore_chain(backup_container, chain, empty_database_url)
    assert table_checksums(empty_database_url) == expected


def test_a_second_request_is_refused_while_a_full_backup_is_queued_or_alive(
    job_env, admin, populated_database_url
) -> None:
    first = _submit(admin)
    with pytest.raises(ConflictError, match=first["backup_id"]):
        _submit(admin)

    _execute(
        populated_database_url,
        "UPDATE ops_backup_runs SET status = 'running', attempts = 1, worker = 'w:1',"
        " lease_expires_at = now() + interval '1 minute' WHERE backup_id = %s",
        (first["backup_id"],),
    )
    with pytest.raises(ConflictError):
        _submit(admin)

    # Its worker stopped renewing the lease: it no longer counts as a backup in progress.
    _execute(
        populated_database_url,
        "UPDATE ops_backup_runs SET lease_expires_at = now() - interval '1 second'"
        " WHERE backup_id = %s",
        (first["backup_id"],),
    )
    second = _submit(admin)
    assert second["backup_id"] != first["backup_id"]

    # A job queued an hour ago whose message never came (a deleted queue) blocks nothing either.
    _execute(
        populated_database_url,
        "UPDATE ops_backup_runs SET queued_at = now() - interval '61 minutes' WHERE backup_id = %s",
        (second["backup_id"],),
    )
    assert _submit(admin)["status"] == "queued"


def test_two_requests_at_once_queue_one_job(job_env, admin, populated_database_url) -> None:
    outcomes: list[str] = []

    def submit() -> None:
        try:
            outcomes.append(_submit(admin)["status"])
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "queued"]


def test_a_job_that_finds_another_backup_running_looks_again_later(
    job_env, azurite, admin, populated_database_url
) -> None:
    run = _submit(admin)
    queue = _queue(azurite, job_env["BACKUP_QUEUE"])
    message = _receive(azurite, job_env["BACKUP_QUEUE"])
    queue.delete_message(str(message.id), message.pop_receipt)

    with job_lock(populated_database_url, BACKUP_LOCK) as lock:  # e.g. an incremental
        assert lock.acquired
        assert service.run_backup_job(run["backup_id"]) == "deferred"

    assert _run(populated_database_url, run["backup_id"])["status"] == "queued"
    assert list(queue.peek_messages()) == []  # not yet: BACKUP_JOB_RETRY_SECONDS
    deadline = time.monotonic() + 10
    while not (visible := list(queue.peek_messages())) and time.monotonic() < deadline:
        time.sleep(0.2)
    [again] = visible
    assert json.loads(base64.b64decode(again.content)) == {"job_id": run["backup_id"]}
    backup_job(_receive(azurite, job_env["BACKUP_QUEUE"]))
    assert _run(populated_database_url, run["backup_id"])["status"] == "succeeded"


def test_a_poisoned_message_fails_its_job_with_the_reason(
    job_env, admin, populated_database_url
) -> None:
    run = _submit(admin)
    body = json.dumps({"job_id": run["backup_id"]}).encode()

    backup_job_poison(QueueMessage(id="m1", body=body, dequeue_count=5))

    failed = _run(populated_database_url, run["backup_id"])
    assert failed["status"] == "failed"
    assert failed["finished_at"] is not None
    assert "no worker finished the job" in failed["error"]
    assert f"{job_env['BACKUP_QUEUE']}-poison" in failed["error"]
    items, _ = _list()
    listed = next(i for i in items if i["backup_id"] == run["backup_id"])
    assert (listed["status"], listed["error"]) == ("failed", failed["error"])
    # Its message delivered once more (or a poison copy of a finished job): nothing changes.
    assert service.run_backup_job(run["backup_id"]) == "settled"
    backup_job_poison(QueueMessage(id="m2", body=body, dequeue_count=6))
    assert _run(populated_database_url, run["backup_id"]) == failed


def test_a_message_naming_no_job_is_dropped(job_env, populated_database_url) -> None:
    backup_job(QueueMessage(id="m1", body=b"not json", dequeue_count=1))
    backup_job(QueueMessage(id="m2", body=b'{"job_id": "full-20300101T000000Z-none"}'))
    with cursor(populated_database_url) as cur:
        cur.execute("SELECT count(*) AS runs FROM ops_backup_runs")
        assert cur.fetchone()["runs"] == 0


def test_the_next_backup_requeues_a_dead_job_and_fails_a_dead_timer_run(
    job_env, admin, populated_database_url, backup_container
) -> None:
    job = _submit(admin)
    _execute(
        populated_database_url,
        "UPDATE ops_backup_runs SET status = 'running', attempts = 1, worker = 'gone:1',"
        " lease_expires_at = now() + interval '1 minute' WHERE backup_id = %s",
        (job["backup_id"],),
    )
    dead_timer_run = "full-20300101T000000Z-dead"
    _execute(
        populated_database_url,
        "INSERT INTO ops_backup_runs (backup_id, kind, blob_prefix, attempts, worker)"
        " VALUES (%s, 'full', %s, 1, 'gone:2')",
        (dead_timer_run, layout.data_prefix(dead_timer_run)),
    )

    timer = run_backup(populated_database_url, backup_container, kind="incremental")

    assert timer.status == "succeeded"
    requeued = _run(populated_database_url, job["backup_id"])
    assert requeued["status"] == "queued"
    assert "attempt 1 stopped (worker gone:1)" in requeued["error"]
    assert _run(populated_database_url, dead_timer_run)["status"] == "failed"
    assert service.run_backup_job(job["backup_id"]) == "succeeded"
    assert _run(populated_database_url, job["backup_id"])["attempts"] == 2


def test_the_worker_renews_its_lease_while_it_works(
    job_env, populated_database_url, backup_container
) -> None:
    leases: list[Any] = []

    def slow(event: str, **fields: Any) -> None:
        if event == "table_done" and fields["index"] <= 2:
            with cursor(populated_database_url) as cur:
                cur.execute(
                    "SELECT lease_expires_at FROM ops_backup_runs WHERE backup_id = %s",
                    (fields["backup_id"],),
                )
                leases.append(cur.fetchone()["lease_expires_at"])
            time.sleep(2.5)  # longer than a heartbeat (lease 3 s / 3)

    result = run_backup(populated_database_url, backup_container, progress=slow, lease_seconds=3)

    assert result.status == "succeeded"
    first, second = leases
    assert (second - first).total_seconds() >= 1.5
    assert _run(populated_database_url, result.backup_id or "")["lease_expires_at"] is None


def _list() -> tuple[list[dict[str, Any]], int]:
    with UnitOfWork.for_job(readonly=True) as uow:
        return service.list_backups(uow, limit=50)


def test_the_lock_connection_asks_the_server_to_notice_a_vanished_worker(
    populated_database_url: str,
) -> None:
    with job_lock(populated_database_url, BACKUP_LOCK) as lock:
        assert lock.acquired
        with lock.connection.cursor() as cur:
            cur.execute(
                "SELECT current_setting('tcp_keepalives_idle'),"
                " current_setting('tcp_keepalives_interval'),"
                " current_setting('tcp_keepalives_count')"
            )
            # Over TCP (as in Azure) the server probes after 20 s idle, 3 probes 10 s apart.
            assert cur.fetchone() == ("20", "10", "3")
