"""The queue listener's polling rhythm, on an in-memory stand-in for the queue service: idle polls
back off from 100 ms to maxPollingInterval, a message resets it, a full batch polls again at once,
new batches wait for the threshold, and stop() ends polling at once."""

from __future__ import annotations

import base64
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import pytest

from devtools.functions_host.host_config import QueueOptions
from devtools.functions_host.queues import QueueFunction, QueueListener


@dataclass
class Message:
    id: str
    content: str
    pop_receipt: str = "receipt"
    dequeue_count: int = 1
    inserted_on: Any = None
    expires_on: Any = None
    next_visible_on: Any = None


class FakeQueue:
    """Records when it was polled; hands out what the test put in."""

    def __init__(self) -> None:
        self.polls: list[float] = []
        self.waiting: list[Message] = []
        self.deleted: list[str] = []
        self.delete_error: Exception | None = None
        self.receive_error: Exception | None = None
        self.lock = threading.Lock()

    def receive_messages(self, *, max_messages: int, **_: Any) -> list[Message]:
        with self.lock:
            self.polls.append(time.monotonic())
            if self.receive_error is not None:
                raise self.receive_error
            batch, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
            return batch

    def delete_message(self, message_id: str, pop_receipt: str) -> None:
        if self.delete_error is not None:
            raise self.delete_error
        self.deleted.append(message_id)

    def update_message(self, *_: Any, **__: Any) -> Message:
        return Message("x", "")


class FakeService:
    def __init__(self, queue: FakeQueue) -> None:
        self.queue = queue

    def get_queue_client(self, name: str) -> FakeQueue:
        return self.queue

    def close(self) -> None:
        pass


def message(number: int) -> Message:
    return Message(f"m{number}", base64.b64encode(b"{}").decode())


def listener(queue: FakeQueue, options: QueueOptions, invoke: Any = None) -> QueueListener:
    function = QueueFunction("work", "work", None, "msg", lambda msg: None)
    return QueueListener(
        function,
        FakeService(queue),  # type: ignore[arg-type]
        options,
        invoke or (lambda fn, msg: None),
        lease_seconds=60,
        drain_seconds=5,
    )


def gaps(polls: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(polls)]


def test_idle_polling_backs_off_to_max_polling_interval_and_a_message_resets_it() -> None:
    queue = FakeQueue()
    polling = listener(queue, QueueOptions(max_polling_interval=0.4))
    polling.start()
    time.sleep(2.5)
    idle = gaps(queue.polls)
    assert 0.12 <= idle[0] <= 0.45  # 100 ms doubled, with jitter
    assert all(gap <= 0.7 for gap in idle)  # never much beyond maxPollingInterval
    assert all(gap >= 0.35 for gap in idle[-3:])  # and there once idle for a while
    with queue.lock:
        queue.waiting.append(message(1))
        before = len(queue.polls)
    time.sleep(1.0)
    after = gaps(queue.polls[before - 1 :])
    assert queue.deleted == ["m1"]
    assert min(after) < 0.3  # the poll after a message comes 100 ms later, not 400
    polling.stop()
    count = len(queue.polls)
    time.sleep(0.5)
    assert len(queue.polls) == count


def test_stop_does_not_wait_out_a_long_polling_interval() -> None:
    queue = FakeQueue()
    polling = listener(queue, QueueOptions(max_polling_interval=30))
    polling.start()
    time.sleep(2)  # idle: the wait has grown past a second
    started = time.monotonic()
    polling.stop()
    assert time.monotonic() - started < 0.5


def test_new_batches_wait_until_the_messages_in_flight_drop_to_the_threshold() -> None:
    queue = FakeQueue()
    queue.waiting = [message(number) for number in range(6)]
    started: list[str] = []
    releases = {f"m{number}": threading.Event() for number in range(6)}
    lock = threading.Lock()

    def invoke(function: QueueFunction, msg: func.QueueMessage) -> None:
        with lock:
            started.append(str(msg.id))
        releases[str(msg.id)].wait(5)

    def wait_for(condition: Any) -> None:
        deadline = time.monotonic() + 5
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)

    options = QueueOptions(batch_size=2, new_batch_threshold=1, max_polling_interval=0.2)
    polling = listener(queue, options, invoke)
    polling.start()
    wait_for(lambda: len(started) == 2)
    time.sleep(0.3)
    # A full batch is in flight, above newBatchThreshold: no new batch is fetched.
    assert (len(queue.polls), sorted(started)) == (1, ["m0", "m1"])
    releases["m0"].set()  # in flight drops to 1 = the threshold: the next batch comes
    wait_for(lambda: len(started) == 4)
    time.sleep(0.3)
    assert sorted(started) == ["m0", "m1", "m2", "m3"]
    assert len(queue.polls) == 2  # 3 in flight = threshold + batchSize, the most there can be
    for event in releases.values():
        event.set()
    wait_for(lambda: len(queue.deleted) == 6)
    polling.stop()
    assert sorted(queue.deleted) == [f"m{number}" for number in range(6)]


class StorageError(Exception):
    def __init__(self, status_code: int, error_code: str) -> None:
        super().__init__(error_code)
        self.status_code = status_code
        self.error_code = error_code


def test_a_message_another_instance_took_over_is_left_to_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = FakeQueue()
    queue.waiting = [message(1)]
    queue.delete_error = StorageError(400, "PopReceiptMismatch")  # its lease ran out meanwhile
    done = threading.Event()
    polling = listener(queue, QueueOptions(max_polling_interval=0.2), lambda fn, msg: done.set())
    with caplog.at_level(logging.INFO, logger="devtools.functions_host"):
        polling.start()
        assert done.wait(5)
        time.sleep(0.3)
        polling.stop()
    assert "Could not delete queue message m1: PopReceiptMismatch" in caplog.text
    assert "could not complete" not in caplog.text


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = FakeQueue()
    queue.receive_error = ConnectionError("storage unreachable")
    polling = listener(queue, QueueOptions(max_polling_interval=0.2))
    with caplog.at_level(logging.INFO, logger="devtools.functions_host"):
        polling.start()
        time.sleep(1.2)
        assert len(queue.polls) >= 4  # it keeps trying, backing off
        with queue.lock:
            queue.receive_error = None
            queue.waiting = [message(1)]
        deadline = time.monotonic() + 5
        while not queue.deleted and time.monotonic() < deadline:
            time.sleep(0.05)
        polling.stop()
    assert queue.deleted == ["m1"]
    assert caplog.text.count("cannot poll") == 1
    assert caplog.text.count("polls again") == 1
