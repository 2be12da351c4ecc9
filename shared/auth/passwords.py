"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendation).

argon2 is deliberately slow and memory-hungry, so every hashing and verification goes through
`verification_slot()`: at most `LOGIN_CONCURRENCY` run at once per process (the cores), a few
more callers may queue for a slot, and the rest answer 503 with Retry-After at once. A burst of
sign-ins then costs the cores it is given and a handful of host threads, never every thread and
every pooled connection. Callers take the slot before touching the database and hold no
transaction while they wait or hash.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.config import get_settings
from shared.errors import ServiceUnavailableError

MIN_PASSWORD_LENGTH = 10
#: Callers that may wait for a slot, per slot: two verifications' worth of queue per core keeps a
#: short burst served while leaving the host's other threads to everyone else.
MAX_QUEUED_PER_SLOT = 2
#: The longest a caller waits for a slot before 503: a sign-in that slow is better retried.
MAX_WAIT_SECONDS = 3.0
#: What a refused caller is told to wait (Retry-After): about one queue's worth of hashing.
BUSY_RETRY_AFTER_SECONDS = 1
_BUSY = "Too many sign-ins are being checked right now; try again in a moment."

_hasher = PasswordHasher()


class _Gate:
    """A semaphore of `slots` with a bounded queue and a bounded wait."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._semaphore.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.slots * MAX_QUEUED_PER_SLOT:
                    raise ServiceUnavailableError(_BUSY, retry_after=BUSY_RETRY_AFTER_SECONDS)
                self._waiting += 1
            try:
                acquired = self._semaphore.acquire(timeout=MAX_WAIT_SECONDS)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not acquired:
                raise ServiceUnavailableError(_BUSY, retry_after=BUSY_RETRY_AFTER_SECONDS)
        try:
            yield
        finally:
            self._semaphore.release()


_gate_lock = threading.Lock()
_gate: _Gate | None = None


def verification_slot() -> AbstractContextManager[None]:
    """A slot to hash or verify in (context manager); 503 when the wait would be too long."""
    global _gate  # noqa: PLW0603  (one gate per process)
    slots = get_settings().login_concurrency
    with _gate_lock:
        if _gate is None or _gate.slots != slots:
            _gate = _Gate(slots)
        gate = _gate
    return gate.slot()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a wrong password or an unusable hash."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)
