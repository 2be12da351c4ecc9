"""The PIPA access log: every read or change of a patient's data appends an audit event.

Services call `record` (or `record_many` for lists) with the same cursor as the read or change it
describes, so the event and the change commit or roll back together. The table is append-only;
a database trigger refuses UPDATE and DELETE (except retention pruning after two years).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, cast

from psycopg2.extras import execute_values

from shared.auth.principal import Actor
from shared.db import Cursor


class AuditAction(StrEnum):
    VIEW = "view"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"


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
    actor: Actor,
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
    actor: Actor,
    action: AuditAction,
    resource_type: str,
    targets: Iterable[tuple[int | None, object]],
    *,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event per (patient_id, resource_id), in one statement."""
    detail_json = json.dumps(detail, ensure_ascii=False) if detail else None
    rows = [
        (
            actor.user_id,
            str(actor.role),
            str(action),
            patient_id,
            resource_type,
            None if resource_id is None else str(resource_id),
            actor.request_id,
            actor.client_ip,
            detail_json,
        )
        for patient_id, resource_id in targets
    ]
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
