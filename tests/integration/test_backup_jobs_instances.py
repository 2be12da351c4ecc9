"""A backup job on a scaled-out app: two served instances on one database and one Azurite.

The instance whose worker picked the job is killed (SIGKILL) in the middle of the backup; its
message comes back when the host's lease on it runs out, and the other instance finishes the
same job: one row, `succeeded` once, a backup that restores. With maxDequeueCount 1 the same
death sends the message to the poison queue instead, and the job is failed with the reason.

The backup is held mid-way by a table lock the test takes (the worker's COPY waits on it), so
the kill lands while the job is running, not before or after it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest
from azure.storage.queue import QueueClient

from shared.backup.restore import restore_chain
from shared.backup.stored_backups import resolve_chain
from tests.factories import cursor, make_user
from tests.fixtures.backup import table_checksums
from tests.fixtures.instances import Instances

pytestmark = pytest.mark.integration

#: The table the test locks to hold the backup mid-way (copied after the first few tables).
HELD_TABLE = "care_logs"


@pytest.fixture
def two_instances(
    start_instances, populated_database_url: str, backup_container
) -> Callable[..., tuple[Instances, str]]:
    def start(**settings: str) -> tuple[Instances, str]:
        queue = f"jobs-{secrets.token_hex(4)}"
        instances = start_instances(
            2,
            DATABASE_URL=populated_database_url,
            BACKUP_CONTAINER=backup_container.container_name,
            BACKUP_QUEUE=queue,
            BACKUP_JOB_LEASE_SECONDS="3",
            # A dead instance's message comes back after this (the real host: 10 minutes).
            FUNCTIONS_HOST_QUEUE_LEASE_SECONDS="2",
            AzureFunctionsJobHost__extensions__queues__maxPollingInterval="00:00:01",
            **settings,
        )
        return instances, queue

    return start


@contextmanager
def held(url: str, table: str) -> Iterator[Callable[[], None]]:
    """Lock `table` against readers until the block ends or `release()` is called."""
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

    def release() -> None:
        if not conn.closed:
            conn.rollback()
            conn.close()

    try:
        yield release
    finally:
        release()


def _run(url: str, backup_id: str) -> dict[str, Any]:
    with cursor(url) as cur:
        cur.execute("SELECT * FROM ops_backup_runs WHERE backup_id = %s", (backup_id,))
        return dict(cur.fetchone())


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _backup_waiting_on_lock(url: str) -> bool:
    with cursor(url) as cur:
        cur.execute(
            "SELECT count(*) AS waiting FROM pg_stat_activity"
            " WHERE application_name = 'neulbomcare-backup' AND wait_event_type = 'Lock'"
        )
        return cur.fetchone()["waiting"] > 0


def _export_events(url: str, backup_id: str) -> int:
    with cursor(url) as cur:
        cur.execute(
            "SELECT count(*) AS events FROM audit_events"
            " WHERE resource_type = 'backup' AND resource_id = %s",
            (backup_id,),
        )
        return int(cur.fetchone()["events"])


def _start_and_kill_the_worker(
    instances: Instances, url: str, headers: dict[str, str]
) -> tuple[str, int]:
    """Accept a backup on instance 0, kill whichever instance runs it mid-backup; return the
    job id and the survivor's index."""
    with held(url, HELD_TABLE) as release:
        started = instances[0].request("POST", "api/admin/backups", headers=headers)
        assert started.status_code == 202, started.text
        backup_id = started.json()["backup_id"]
        running = _wait(
            lambda: (row := _run(url, backup_id))["status"] == "running" and row["worker"] and row,
            30,
            "a worker to claim the job",
        )
        _wait(lambda: _backup_waiting_on_lock(url), 30, "the backup to reach the held table")
        victim = instances.index_of(int(running["worker"].rsplit(":", 1)[1]))
        instances.kill(victim)
        release()
    return backup_id, 1 - victim


def test_a_job_whose_instance_dies_is_finished_once_by_the_other(
    two_instances, populated_database_url: str, backup_container, empty_database_url, azurite
) -> None:
    instances, queue_name = two_instances()
    with cursor(populated_database_url) as cur:
        admin = make_user(cur, "admin")
    expected = table_checksums(populated_database_url)

    backup_id, survivor = _start_and_kill_the_worker(
        instances, populated_database_url, admin.headers
    )

    done = _wait(
        lambda: (
            (row := _run(populated_database_url, backup_id))["status"] in ("succeeded", "failed")
            and row
        ),
        60,
        "the other instance to finish the job",
    )
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert done["worker"].endswith(f":{instances[survivor].process.pid}")
    # The audit event follows the settled row, in the same worker call.
    _wait(lambda: _export_events(populated_database_url, backup_id), 10, "the export event")
    assert _export_events(populated_database_url, backup_id) == 1
    listed = instances[survivor].get("api/admin/backups", headers=admin.headers).json()
    [item] = [i for i in listed["items"] if i["backup_id"] == backup_id]
    assert (item["status"], item["attempts"]) == ("succeeded", 2)
    chain = resolve_chain(backup_container)
    assert [m.backup_id for m in chain] == [backup_id]
    restore_chain(backup_container, chain, empty_database_url)
    assert table_checksums(empty_database_url) == expected

    # The same message delivered again (a duplicate the queue may hand out): nothing changes.
    queue = QueueClient.from_connection_string(azurite.connection_string, queue_name)
    body = json.dumps({"job_id": backup_id}).encode()
    queue.send_message(base64.b64encode(body).decode())
    _wait(
        lambda: queue.get_queue_properties().approximate_message_count == 0,
        30,
        "the duplicate to be taken",
    )
    assert _run(populated_database_url, backup_id) == done
    assert _export_events(populated_database_url, backup_id) == 1
    assert "backup_job_already_settled" in instances[survivor].logs()


def test_a_job_whose_message_is_poisoned_is_failed_with_the_reason(
    two_instances, populated_database_url: str
) -> None:
    instances, queue_name = two_instances(
        AzureFunctionsJobHost__extensions__queues__maxDequeueCount="1"
    )
    with cursor(populated_database_url) as cur:
        admin = make_user(cur, "admin")

    backup_id, survivor = _start_and_kill_the_worker(
        instances, populated_database_url, admin.headers
    )

    failed = _wait(
        lambda: (row := _run(populated_database_url, backup_id))["status"] == "failed" and row,
        60,
        "the poison queue's function to fail the job",
    )
    assert f"{queue_name}-poison" in failed["error"]
    assert failed["attempts"] == 1  # the message was not run a second time
    listed = instances[survivor].get("api/admin/backups", headers=admin.headers).json()
    [item] = [i for i in listed["items"] if i["backup_id"] == backup_id]
    assert item["status"] == "failed"
    assert "no worker finished the job" in item["error"]
    # A failed job blocks nothing: the next request is accepted and runs.
    again = instances[survivor].request("POST", "api/admin/backups", headers=admin.headers)
    assert again.status_code == 202, again.text
    next_run = _wait(
        lambda: (
            (row := _run(populated_database_url, again.json()["backup_id"]))["status"]
            in ("succeeded", "failed")
            and row
        ),
        60,
        "the next job",
    )
    assert next_run["status"] == "succeeded", next_run["error"]
