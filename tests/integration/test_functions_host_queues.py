"""Queue triggers on the local Functions host: two host processes polling one Azurite queue.

The app is tests/integration/functions_host_queue_app.py (a queue trigger that records each
attempt as a file), served by `python -m devtools.functions_host` in two processes started by the
`start_instances` fixture; host.json's queue options are overridden through app settings, the
way the real host lets them be.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient, QueueServiceClient

from tests.fixtures.instances import Instances

pytestmark = pytest.mark.integration

APP = "tests.integration.functions_host_queue_app:app"
QUEUES = "AzureFunctionsJobHost__extensions__queues__"


@pytest.fixture
def queue_name() -> str:
    return f"host-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def queue_service(azurite) -> Iterator[QueueServiceClient]:
    with QueueServiceClient.from_connection_string(azurite.connection_string) as service:
        yield service


@pytest.fixture
def queue(queue_service: QueueServiceClient, queue_name: str) -> QueueClient:
    client = queue_service.get_queue_client(queue_name)
    client.create_queue()
    return client


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    folder.mkdir()
    return folder


@pytest.fixture
def two_hosts(
    start_instances: Callable[..., Instances], queue_name: str, results: Path
) -> Callable[..., Instances]:
    def start(**settings: str) -> Instances:
        return start_instances(
            2,
            app=APP,
            TEST_QUEUE=queue_name,
            QUEUE_TEST_RESULTS=str(results),
            **{
                f"{QUEUES}maxPollingInterval": "00:00:00.5",
                f"{QUEUES}visibilityTimeout": "00:00:00",
                **settings,
            },
        )

    return start


def send(queue: QueueClient, message_id: str, action: str, **extra: object) -> None:
    """Base64, as the host expects by default (messageEncoding: base64)."""
    body = json.dumps({"id": message_id, "action": action, **extra}).encode()
    queue.send_message(base64.b64encode(body).decode())


def recorded(results: Path, kind: str) -> list[tuple[str, int, int]]:
    """(message id, pid, dequeue count) of every file of this kind."""
    rows = []
    for path in results.glob(f"{kind}-*"):
        _, message_id, pid, dequeue_count = path.name.rsplit("-", 3)
        rows.append((message_id, int(pid), int(dequeue_count)))
    return rows


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_every_message_is_handled_exactly_once_across_two_hosts(
    two_hosts: Callable[..., Instances], queue: QueueClient, results: Path
) -> None:
    hosts = two_hosts(**{f"{QUEUES}batchSize": "2", f"{QUEUES}newBatchThreshold": "0"})
    ids = [f"m{number}" for number in range(30)]
    for message_id in ids:
        send(queue, message_id, "ok", seconds=0.1)

    wait_until(lambda: len(recorded(results, "done")) >= len(ids), 60, "30 messages handled")
    time.sleep(1.5)  # a duplicate delivery would show up within a few polls

    done = recorded(results, "done")
    assert sorted(message_id for message_id, _, _ in done) == sorted(ids)
    assert {dequeue_count for _, _, dequeue_count in done} == {1}
    by_host = Counter(pid for _, pid, _ in done)
    assert set(by_host) == set(hosts.pids())  # both hosts took a share of the work
    assert queue.peek_messages(max_messages=32) == []  # success deleted each message
    for app in hosts.apps:
        assert app.request("HEAD", "health").status_code == 200


def test_a_failing_message_moves_to_the_poison_queue_after_max_dequeue_count(
    two_hosts: Callable[..., Instances],
    queue: QueueClient,
    queue_service: QueueServiceClient,
    queue_name: str,
    results: Path,
) -> None:
    hosts = two_hosts(**{f"{QUEUES}maxDequeueCount": "3"})
    send(queue, "bad", "fail")
    send(queue, "good", "ok")
    poison = queue_service.get_queue_client(f"{queue_name}-poison")

    def poisoned() -> list[str]:
        try:
            return [message.content for message in poison.peek_messages(max_messages=32)]
        except Exception:  # the host creates the poison queue on first use
            return []

    wait_until(lambda: len(poisoned()) == 1, 60, "the poison queue")
    attempts = recorded(results, "attempt")
    assert sorted(count for _, _, count in attempts) == [1, 2, 3]  # maxDequeueCount attempts
    assert {message_id for message_id, _, _ in attempts} == {"bad"}
    [content] = poisoned()
    assert json.loads(base64.b64decode(content)) == {"id": "bad", "action": "fail"}  # as sent
    assert [message_id for message_id, _, _ in recorded(results, "done")] == ["good"]
    assert queue.peek_messages(max_messages=32) == []
    logs = "".join(app.logs() for app in hosts.apps)
    assert f"Moving message to queue '{queue_name}-poison'" in logs
    assert "fails on purpose" in logs


def test_a_message_whose_host_was_killed_comes_back_to_the_other_host(
    two_hosts: Callable[..., Instances], queue: QueueClient, results: Path
) -> None:
    hosts = two_hosts(FUNCTIONS_HOST_QUEUE_LEASE_SECONDS="2", **{f"{QUEUES}batchSize": "1"})
    send(queue, "orphan", "hang-first")
    wait_until(lambda: len(recorded(results, "started")) == 1, 30, "the first delivery")
    [(_, first_pid, _)] = recorded(results, "started")
    victim = hosts.index_of(first_pid)

    hosts.kill(victim)  # mid-function: nothing is released or deleted

    wait_until(lambda: len(recorded(results, "done")) == 1, 30, "the second delivery")
    [(message_id, pid, dequeue_count)] = recorded(results, "done")
    assert message_id == "orphan"
    assert pid == hosts.pids()[1 - victim]
    assert dequeue_count == 2
    survivor = hosts[1 - victim]
    assert survivor.request("HEAD", "health").status_code == 200
    wait_until(lambda: queue.peek_messages() == [], 10, "the message to be deleted")
