"""Leases: a worker says it is alive by renewing its job's lease from a heartbeat thread.

A job row's `lease_expires_at` is `now() + lease` when a worker claims it and on every heartbeat
(a third of the lease apart, so two heartbeats may be missed before it lapses). A lapsed lease
means the worker died or hung: observers (the list of backups, the check that refuses a second
backup on demand) no longer count the job as running, and the job's next worker starts it over.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from shared.observability import get_logger, redact_text

log = get_logger("jobs.lease")

#: Heartbeats per lease: the lease survives this many minus one missed heartbeats.
HEARTBEATS_PER_LEASE = 3
#: A job whose workers died this many times is failed instead of started over once more.
MAX_ATTEMPTS = 5


def worker_name() -> str:
    """This worker for the operators: the Functions instance (or host name) and the process."""
    instance = os.environ.get("WEBSITE_INSTANCE_ID", "")[:12] or socket.gethostname()
    return f"{instance}:{os.getpid()}"


class Heartbeat:
    """Call `renew()` every `lease_seconds / 3` on a daemon thread while the block runs.

    `renew` returns False when the lease is no longer this worker's (the row was settled or
    taken over); the heartbeat then stops and `lost` is True. A renew that raises is logged and
    retried at the next beat: a short database outage must not stop the work it only reports.
    """

    def __init__(self, renew: Callable[[], bool], lease_seconds: float, *, name: str) -> None:
        self._renew = renew
        self._interval = max(lease_seconds / HEARTBEATS_PER_LEASE, 0.5)
        self._name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{name}", daemon=True)
        self.lost = False
        self.beats = 0

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(self._interval + 5)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if not self._renew():
                    self.lost = True
                    log.warning("job_lease_lost", job_id=self._name)
                    return
                self.beats += 1
            except Exception as exc:
                log.warning(
                    "job_heartbeat_failed",
                    job_id=self._name,
                    error=redact_text(f"{type(exc).__name__}: {exc}")[:500],
                )
