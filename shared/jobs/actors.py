"""Who asked for a job, stored with it: the worker's audit event names the same actor.

A signed-in user is kept as its user id and role plus the request's id and client address, what
an audit event records (never the name, the email or a token); a system job as its role and name
(the timer). `from_json(to_json(actor))` audits exactly as `actor` would.
"""

from __future__ import annotations

from typing import Any

from models.vocabularies import Role
from shared.audit import AuditActor, SystemActor
from shared.auth.principal import Actor, Principal


def to_json(actor: AuditActor) -> dict[str, Any]:
    if isinstance(actor, SystemActor):
        return {"system": actor.role, "name": actor.name}
    return {
        "user_id": actor.user_id,
        "role": str(actor.role),
        "request_id": actor.request_id,
        "client_ip": actor.client_ip,
    }


def from_json(value: dict[str, Any] | None) -> AuditActor | None:
    """The actor stored by `to_json`, or None for a row without one."""
    if not value:
        return None
    if "system" in value:
        return SystemActor(str(value["system"]), str(value["name"]))
    principal = Principal(
        user_id=int(value["user_id"]), role=Role(value["role"]), email="", name=""
    )
    return Actor(principal, request_id=value.get("request_id"), client_ip=value.get("client_ip"))
