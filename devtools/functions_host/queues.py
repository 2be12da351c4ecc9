"""Queue triggers: poll a Storage queue and call the function once per message, as the host does.

One ``QueueListener`` per queue-triggered function, following the Functions host's queue
listener (Storage Queues extension 5.x) and host.json ``extensions.queues``:

- receive up to ``batchSize`` messages, each hidden from other instances for a lease (the real
  host: 10 minutes) that is renewed at half of it while the function runs;
- a new batch is fetched once the messages in flight drop to ``newBatchThreshold``; at most
  ``batchSize + newBatchThreshold`` run at once, each on its own thread;
- the body is base64-decoded unless ``messageEncoding`` is ``none``; the function gets a
  ``func.QueueMessage`` (id, body, dequeue_count, insertion_time, expiration_time,
  time_next_visible, pop_receipt);
- success deletes the message; a failure (exception or functionTimeout) makes it visible again
  after ``visibilityTimeout``, unless it has been dequeued ``maxDequeueCount`` times: then it
  is copied to ``<queue>-poison`` (created when missing) and deleted. A message that arrives
  already past ``maxDequeueCount`` (its last attempt's process died) and one that cannot be
  decoded go to the poison queue without running;
- an empty poll doubles the wait (randomised), from 100 ms up to ``maxPollingInterval``; a
  message resets it, and a full batch polls again at once. A queue that does not exist yet
  counts as empty; a storage error is logged and backed off the same way.

``stop()`` ends polling at once, waits for the functions in flight (up to a grace period) and
stops renewing leases, so an unfinished message reappears after its lease for another instance.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import random
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import azure.functions as func
from azure.functions.queue import QueueMessage as TriggerMessage

from devtools.functions_host.host_config import QueueOptions

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient, QueueServiceClient
    from azure.storage.queue import QueueMessage as StoredMessage

logger = logging.getLogger(__name__)

#: The real host hides a received message for 10 minutes and renews that at half-time.
DEFAULT_LEASE_SECONDS = 600
MIN_POLLING_INTERVAL = 0.1
POISON_SUFFIX = "-poison"
_QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class QueueFunction:
    """A queue-triggered function as the host indexed it (queue name resolved)."""

    name: str
    queue_name: str
    connection: str | None
    arg_name: str
    handler: Callable[..., Any]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "trigger": "queue", "queue": self.queue_name}


def check_queue_name(function_name: str, queue_name: str) -> str:
    """Queue names are 3-63 lowercase letters, digits and single dashes (the host lowercases
    nothing: an upper-case name fails to index)."""
    if not _QUEUE_NAME.match(queue_name):
        raise ValueError(
            f"The queue function '{function_name}' cannot be indexed: {queue_name!r} is not a "
            "valid queue name (3-63 lowercase letters, digits and single dashes)"
        )
    return queue_name


Invoke = Callable[[QueueFunction, func.QueueMessage], None]


class QueueListener:
    """Polls one queue for one function on a thread of its own."""

    def __init__(
        self,
        function: QueueFunction,
        service: QueueServiceClient,
        options: QueueOptions,
        invoke: Invoke,
        *,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        drain_seconds: float = 30.0,
    ) -> None:
        self.function = function
        self.options = options
        self._service = service
        self._queue: QueueClient = service.get_queue_client(function.queue_name)
        self._invoke = invoke
        self._lease = max(1, int(lease_seconds))
        self._drain = drain_seconds
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._in_flight = 0
        self._workers = ThreadPoolExecutor(
            max_workers=max(1, options.max_in_flight),
            thread_name_prefix=f"queue-{function.name}",
        )
        self._thread = threading.Thread(
            target=self._poll_forever, name=f"queue-listener-{function.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop polling, wait for the messages in flight (up to the drain time), release."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(timeout=10)
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight == 0, timeout=self._drain)
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._service.close()

    # -- polling ----------------------------------------------------------------------------

    def _poll_forever(self) -> None:
        delay = MIN_POLLING_INTERVAL
        failing = False  # an outage is logged when it starts and when it ends, not every poll
        while not self._stopping.is_set():
            with self._changed:
                self._changed.wait_for(
                    lambda: (
                        self._stopping.is_set()
                        or self._in_flight <= self.options.new_batch_threshold
                    )
                )
            if self._stopping.is_set():
                return
            try:
                received = self._receive()
            except Exception as error:
                received = []
                if not _is_not_found(error) and not failing:
                    failing = True
                    logger.warning(
                        "Queue listener for '%s' (queue %s) cannot poll, retrying with back-off: "
                        "%s",
                        self.function.name,
                        self.function.queue_name,
                        error,
                    )
            else:
                if failing:
                    failing = False
                    logger.info(
                        "Queue listener for '%s' (queue %s) polls again",
                        self.function.name,
                        self.function.queue_name,
                    )
            if received:
                delay = MIN_POLLING_INTERVAL
                for message in received:
                    self._dispatch(message)
                if len(received) >= self.options.batch_size:
                    continue
            else:
                delay = min(
                    self.options.max_polling_interval,
                    delay * 2 * random.uniform(0.8, 1.2),  # jitter
                )
            self._stopping.wait(MIN_POLLING_INTERVAL if received else delay)

    def _receive(self) -> list[StoredMessage]:
        pages = self._queue.receive_messages(
            messages_per_page=self.options.batch_size,
            max_messages=self.options.batch_size,
            visibility_timeout=self._lease,
        )
        return list(pages)

    def _dispatch(self, message: StoredMessage) -> None:
        with self._changed:
            self._in_flight += 1
        try:
            self._workers.submit(self._process, message)
        except RuntimeError:  # shut down under us: leave it to reappear after its lease
            self._done()

    def _done(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    # -- one message ----------------------------------------------------------------------------

    def _process(self, message: StoredMessage) -> None:
        lease = _Lease(self._queue, message, self._lease)
        try:
            dequeue_count = int(message.dequeue_count or 0)
            if dequeue_count > self.options.max_dequeue_count:
                self._poison(lease, message, f"dequeued {dequeue_count} times")
                return
            try:
                body = self._decode(message.content)
            except ValueError as error:
                self._poison(lease, message, str(error))
                return
            lease.start_renewing()
            succeeded = self._run(message, body)
            lease.stop_renewing()
            if succeeded:
                lease.delete()
            elif dequeue_count >= self.options.max_dequeue_count:
                self._poison(lease, message, f"failed on attempt {dequeue_count}")
            else:
                lease.release(self.options.visibility_timeout)
        except Exception:
            logger.exception(
                "Queue listener for '%s' could not complete message %s",
                self.function.name,
                message.id,
            )
        finally:
            lease.stop_renewing()
            self._done()

    def _run(self, message: StoredMessage, body: str) -> bool:
        trigger = TriggerMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        try:
            self._invoke(self.function, trigger)
        except Exception:
            logger.exception(
                "Executed 'Functions.%s' (Failed, message %s, dequeue count %s)",
                self.function.name,
                message.id,
                message.dequeue_count,
            )
            return False
        return True

    def _decode(self, content: Any) -> str:
        text = content if isinstance(content, str) else str(content or "")
        if self.options.message_encoding == "none":
            return text
        try:
            return base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError(
                "the message is not base64-encoded UTF-8 (host.json "
                "extensions.queues.messageEncoding is 'base64')"
            ) from error

    def _poison(self, lease: _Lease, message: StoredMessage, reason: str) -> None:
        poison_name = f"{self.function.queue_name}{POISON_SUFFIX}"
        poison = self._service.get_queue_client(poison_name)
        try:
            poison.create_queue()
        except Exception as error:
            if not _is_conflict(error):
                raise
        poison.send_message(message.content)
        lease.delete()
        logger.warning(
            "Message Id '%s' has reached MaxDequeueCount of %s. Moving message to queue '%s' (%s).",
            message.id,
            self.options.max_dequeue_count,
            poison_name,
            reason,
        )


class _Lease:
    """A received message's pop receipt, renewed while its function runs."""

    def __init__(self, queue: QueueClient, message: StoredMessage, seconds: int) -> None:
        self._queue = queue
        self._id = message.id
        self._pop_receipt = message.pop_receipt
        self._seconds = seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_renewing(self) -> None:
        self._thread = threading.Thread(
            target=self._renew_until_stopped, name=f"queue-lease-{self._id}", daemon=True
        )
        self._thread.start()

    def stop_renewing(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def delete(self) -> None:
        with self._lock, _unless_taken_over(self._id, "delete"):
            self._queue.delete_message(self._id, self._pop_receipt)

    def release(self, visible_in: float) -> None:
        with _unless_taken_over(self._id, "release"):
            self._update(round(visible_in))

    def _update(self, seconds: int) -> None:
        with self._lock:
            updated = self._queue.update_message(
                self._id, self._pop_receipt, visibility_timeout=seconds
            )
            self._pop_receipt = updated.pop_receipt

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self._seconds / 2):
            try:
                self._update(self._seconds)
            except Exception as error:
                logger.warning("Could not renew the lease of queue message %s: %s", self._id, error)
                return


@contextlib.contextmanager
def _unless_taken_over(message_id: str, action: str) -> Iterator[None]:
    """As the host does, a message another instance took over (its lease ran out: the pop
    receipt no longer matches) or that is gone is left to whoever holds it now."""
    try:
        yield
    except Exception as error:
        code = getattr(error, "error_code", None)
        if _status(error) == 404 or (_status(error) == 400 and code == "PopReceiptMismatch"):
            logger.info("Could not %s queue message %s: %s", action, message_id, code)
            return
        raise


def _status(error: BaseException) -> int | None:
    return getattr(error, "status_code", None)


def _is_not_found(error: BaseException) -> bool:
    return _status(error) == 404


def _is_conflict(error: BaseException) -> bool:
    return _status(error) == 409
