"""The PIPA access log: every read or change of a patient's data appends an audit event.

Services call `record` (or `record_many` for lists) with the same cursor as the read or change it
describes, so the event and the change commit or roll back together. The table is append-only;
a database trigger refuses UPDATE and DELETE (except retention pruning after two years).

Jobs without a signed-in user (backups, restores, drills) record as a `SystemActor`: no user id,
`actor_role` "timer" (detail `{"timer": NAME}`) or "operator" (a command-line run; detail
`{"os_user": NAME}`, the operating-system account that ran it).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict, cast

from psycopg2.extras import execute_values

from shared.auth.principal import Actor
from shared.db import Cursor


class AuditAction(StrEnum):
    VIEW = "view"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"


@dataclass(frozen=True)
class SystemActor:
    """Who acts when no user is signed in: a timer (`role` "timer", `name` the timer's name) or
    an operator's command (`role` "operator", `name` the operating-system user).

    Recorded with actor_user_id NULL, actor_role `role`, and `detail` naming it."""

    role: str
    name: str
    request_id: str | None = None
    client_ip: str | None = None

    TIMER = "timer"
    OPERATOR = "operator"

    @property
    def user_id(self) -> None:
        return None

    @classmethod
    def timer(cls, name: str) -> SystemActor:
        return cls(cls.TIMER, name)

    @classmethod
    def operator(cls, os_user: str | None = None) -> SystemActor:
        """A command run by hand; `os_user` defaults to the account running this process."""
        return cls(cls.OPERATOR, os_user or _os_user())

    def detail(self) -> dict[str, str]:
        """What the event's detail says about who acted."""
        key = "timer" if self.role == self.TIMER else "os_user"
        return {key: self.name}


def operator_name() -> str:
    """The operating-system account running this process (who ran a command by hand)."""
    return _os_user()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name, no passwd entry (some containers)
        return "unknown"


#: Whom an event names: a signed-in user (through a request) or a system job.
AuditActor = Actor | SystemActor


class AuditEventRow(TypedDict):
    """One row of `list_events`."""

    event_id: int
    occurred_at: datetime
    actor_user_id: int | None
    actor_role: str | None
    action: str
    patient_id: int | None
    resource_type: str
    resource_id: str | None
    request_id: str | None
    client_ip: str | None
    detail: dict[str, Any] | None


class _Total(TypedDict):
    total: int


_INSERT = (
    "INSERT INTO audit_events (actor_user_id, actor_role, action, patient_id, resource_type,"
    " resource_id, request_id, client_ip, detail) VALUES %s"
)


def record(
    cur: Cursor,
    actor: AuditActor,
    action: AuditAction,
    *,
    patient_id: int | None,
    resource_type: str,
    resource_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event in the caller's transaction."""
    record_many(cur, actor, action, resource_type, [(patient_id, resource_id)], detail=detail)


def record_many(
    cur: Cursor,
    actor: AuditActor,
    action: AuditAction,
    resource_type: str,
    targets: Iterable[tuple[int | None, object]],
    *,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event per (patient_id, resource_id), in one statement."""
    record_events(
        cur,
        actor,
        (
            AuditEvent(action, resource_type, patient_id, resource_id, detail)
            for patient_id, resource_id in targets
        ),
    )


class AuditEvent(NamedTuple):
    """One event of `record_events`: what was done to which resource of which patient."""

    action: AuditAction
    resource_type: str
    patient_id: int | None
    resource_id: object = None
    detail: dict[str, Any] | None = None


def record_events(cur: Cursor, actor: AuditActor, events: Iterable[AuditEvent]) -> None:
    """Append events that differ in action or detail (the CSV import's one per patient), all by
    `actor`, in one statement. The one INSERT of the audit log: every writer comes through here."""
    rows = []
    for event in events:
        detail = event.detail
        if isinstance(actor, SystemActor):
            detail = {**actor.detail(), **(detail or {})}
        rows.append(
            (
                actor.user_id,
                str(actor.role),
                str(event.action),
                event.patient_id,
                event.resource_type,
                None if event.resource_id is None else str(event.resource_id),
                actor.request_id,
                actor.client_ip,
                json.dumps(detail, ensure_ascii=False) if detail else None,
            )
        )
    if rows:
        execute_values(cur, _INSERT, rows)


def list_events(
    cur: Cursor,
    *,
    patient_id: int | None,
    actor_id: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AuditEventRow], int]:
    """Events matching every given filter, newest first, and how many match in all."""
    params = {
        "patient_id": patient_id,
        "actor_id": actor_id,
        "since": since,
        "until": until,
        "limit": limit,
        "offset": offset,
    }
    where = """
        WHERE (%(patient_id)s::bigint IS NULL OR patient_id = %(patient_id)s)
          AND (%(actor_id)s::bigint IS NULL OR actor_user_id = %(actor_id)s)
          AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
          AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)
    """
    cur.execute(f"SELECT count(*) AS total FROM audit_events {where}", params)  # noqa: S608
    total = cast(_Total, cur.fetchone())["total"]
    cur.execute(
        "SELECT event_id, occurred_at, actor_user_id, actor_role, action, patient_id,"  # noqa: S608
        " resource_type, resource_id, request_id, host(client_ip) AS client_ip, detail"
        f" FROM audit_events {where}"
        " ORDER BY occurred_at DESC, event_id DESC LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return cast(list[AuditEventRow], cur.fetchall()), total
