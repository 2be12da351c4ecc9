"""One unit of work: what a request, a timer or a command does to the database, in one object.

The HTTP pipeline builds one per request and hands it to the handler (`request.uow`), which
passes it to one service function; timers and CLI commands build their own (`UnitOfWork.for_job`)
around their work. Services take it as their first argument: `f(uow, ...)`. It holds:

- the caller: `uow.principal` and `uow.actor` (the principal plus the request's id and address,
  which audit events record); a job has no principal. The pipeline establishes it with
  `uow.authenticate(check)`: the token's user is read as the first statement of the unit's
  transaction, so a request uses one connection and one transaction (the work need not ask for a
  read-only transaction or an isolation level first: `begin`/`read_only` still give them);
- the transaction: `uow.cursor` begins it on first use (so a request that needs no database
  borrows no connection); the owner of the unit ends it, committing when the work returned and
  rolling back when it raised. `uow.commit()` ends it early, before a call that must not hold a
  connection (Azure OpenAI may take two timeouts); the next use of `cursor` begins a new one;
- `uow.authorize(patient_id, action)`: the authorization table's answer, read in this
  transaction (shared.auth.authorization);
- `uow.audit(...)` / `uow.audit_many(...)`: audit events written in this transaction, so they
  commit exactly when the read or change they describe does (shared.audit);
- one translation of integrity errors (CHECK, NOT NULL, UNIQUE, FOREIGN KEY) into 422/409, by
  the constraint maps the areas register (shared.integrity);
- one translation of a lost connection (a database restart or failover, a terminated backend:
  shared.db.connection_lost) into `ConnectionLostError`, a 503 with Retry-After; the pool has
  discarded the connection. `commit_attempted` says whether a commit was tried, i.e. whether
  doing the work again could do it twice (the pipeline retries a GET once when it is false).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any, Self

import psycopg2

from shared import audit as audit_log
from shared import integrity
from shared.audit import AuditAction
from shared.auth.authorization import PatientAccess, PatientAction, authorize_patient
from shared.auth.principal import Actor, Principal
from shared.db import ConnectionLostError, Cursor, Database, connection_lost, get_database
from shared.observability import get_logger

log = get_logger("unit_of_work")


class UnitOfWork:
    """A lazily begun transaction with the caller, authorization and audit (module docstring)."""

    def __init__(
        self,
        actor: Actor | None,
        *,
        database: Callable[[], Database] = get_database,
        readonly: bool = False,
        isolation: str | None = None,
    ) -> None:
        self.actor_or_none = actor
        self._database = database
        self._readonly = readonly
        self._isolation = isolation
        self._stack: ExitStack | None = None
        self._cursor: Cursor | None = None
        #: A commit was sent (it may have succeeded even if its answer was lost).
        self.commit_attempted = False
        #: The open transaction has run the caller's check and nothing else yet.
        self._only_authenticated = False

    @classmethod
    def for_job(cls, **options: Any) -> UnitOfWork:
        """A unit of work with no caller: a timer's or an operator command's work."""
        return cls(None, **options)

    # -- the caller ----------------------------------------------------------------------------

    @property
    def actor(self) -> Actor:
        """The caller with its request's id and address (what audit events record)."""
        if self.actor_or_none is None:
            raise RuntimeError("this unit of work has no caller (a job's work)")
        return self.actor_or_none

    @property
    def principal(self) -> Principal:
        """The signed-in user this work is done for."""
        return self.actor.principal

    def authenticate(self, check: Callable[[Cursor], Actor]) -> Actor:
        """Establish the caller: `check` reads it (the token's user; raises 401) with this
        unit's cursor, as the first statement of its transaction, so authentication and the
        work share one connection and one transaction. Until the work uses the transaction,
        `begin()` and `read_only()` may still set its options (see there)."""
        if self.actor_or_none is not None or self._cursor is not None:
            raise RuntimeError("authenticate() comes first, once")
        actor = check(self.cursor)
        self.actor_or_none = actor
        self._only_authenticated = True
        return actor

    # -- the transaction -----------------------------------------------------------------------

    @property
    def cursor(self) -> Cursor:
        """The open transaction's cursor (rows as dicts), begun on first use."""
        if self._cursor is None:
            self._begin()
        assert self._cursor is not None
        self._only_authenticated = False
        return self._cursor

    @property
    def in_transaction(self) -> bool:
        return self._cursor is not None

    def begin(self, *, readonly: bool = False, isolation: str | None = None) -> Cursor:
        """Begin a transaction with explicit options (the default is read-write, the server's
        isolation level); refused while one is open, so options are never silently lost.

        The transaction the caller's check opened (`authenticate`) counts as not yet begun: it
        becomes read-only in place (`SET TRANSACTION READ ONLY` is allowed after a read), and
        is committed first when an isolation level is asked for (which must come before any
        statement)."""
        if self._cursor is not None:
            if not self._only_authenticated:
                raise RuntimeError("a transaction is already open in this unit of work")
            if isolation is None:
                if readonly:
                    self._cursor.execute("SET TRANSACTION READ ONLY")
                return self.cursor
            self.commit()
        self._readonly, self._isolation = readonly, isolation
        return self.cursor

    def read_only(self) -> Cursor:
        """The open transaction's cursor, or else a new read-only transaction's: for the reading
        phase a service commits before a slow outside call (Azure OpenAI, ranking)."""
        if self._cursor is not None and not self._only_authenticated:
            return self._cursor
        return self.begin(readonly=True)

    def _begin(self) -> None:
        stack = ExitStack()
        transaction: AbstractContextManager[Cursor] = self._database().transaction(
            readonly=self._readonly, isolation=self._isolation
        )
        self._cursor = stack.enter_context(transaction)
        self._stack = stack
        self._readonly, self._isolation = False, None

    def commit(self) -> None:
        """Commit the open transaction (if any) and give its connection back."""
        self._end(None, None, None)

    def rollback(self) -> None:
        """Roll the open transaction (if any) back and give its connection back."""
        error = RuntimeError("rolled back")
        self._end(type(error), error, None)

    def _end(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack, self._cursor = self._stack, None, None
        self._only_authenticated = False
        if stack is None:
            return
        if exc_type is None:
            self.commit_attempted = True
        try:
            stack.__exit__(exc_type, exc, tb)
        except psycopg2.IntegrityError as error:  # a deferred constraint, checked at commit
            raise integrity.translate(error) from None
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
            if connection_lost(error):  # at commit or while rolling back
                raise _lost(error) from error
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit when the work returned, roll back when it raised; integrity errors become
        the API's 422/409 (after the rollback), a lost connection a 503 (ConnectionLostError)."""
        self._end(exc_type, exc, tb)
        if isinstance(exc, psycopg2.IntegrityError):
            raise integrity.translate(exc) from None
        if exc is not None and connection_lost(exc):
            raise _lost(exc) from exc

    # -- authorization and audit ---------------------------------------------------------------

    def authorize(self, patient_id: int | None, action: PatientAction) -> PatientAccess:
        """Allow `action` on the patient for the caller, or raise 403/404 (see
        shared.auth.authorization); `patient_id` None is a patient that was not found."""
        return authorize_patient(self.cursor, self.principal, patient_id, action)

    def audit(
        self,
        action: AuditAction,
        resource_type: str,
        *,
        patient_id: int | None,
        resource_id: object = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one audit event in this transaction."""
        audit_log.record(
            self.cursor,
            self.actor,
            action,
            patient_id=patient_id,
            resource_type=resource_type,
            resource_id=resource_id,
            detail=detail,
        )

    def audit_many(
        self,
        action: AuditAction,
        resource_type: str,
        targets: Iterable[tuple[int | None, object]],
        *,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one audit event per (patient_id, resource_id), in one statement."""
        audit_log.record_many(
            self.cursor, self.actor, action, resource_type, targets, detail=detail
        )


def _lost(error: BaseException) -> ConnectionLostError:
    """The 503 for a lost connection, logged once with the driver's first line."""
    log.warning(
        "db_connection_lost",
        error_type=type(error).__name__,
        error=(str(error).strip().splitlines() or [""])[0][:200],
    )
    return ConnectionLostError()
