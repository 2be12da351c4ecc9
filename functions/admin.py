"""Operator endpoints (admin role only): the audit log, backups and the matching model."""

from __future__ import annotations

from models.audit import AuditEvent, AuditEventQuery
from models.common import Page
from models.vocabularies import Role
from shared import audit
from shared.auth.authorization import require_role
from shared.db import get_database
from shared.http import Api, ApiRequest

api = Api(tag="admin")
bp = api.blueprint


@api.route(
    "GET",
    "api/admin/audit-events",
    name="admin_audit_events",
    query=AuditEventQuery,
    response=Page[AuditEvent],
    errors=(403, 422),
)
def audit_events(request: ApiRequest) -> Page[AuditEvent]:
    """Who read or changed which patient's data, when and from where."""
    require_role(request.user, Role.ADMIN)
    query: AuditEventQuery = request.query
    with get_database().transaction(readonly=True) as cur:
        rows, total = audit.list_events(
            cur,
            patient_id=query.patient_id,
            actor_id=query.actor_id,
            since=query.from_,
            until=query.to,
            limit=query.limit,
            offset=query.offset,
        )
    return Page[AuditEvent](items=[AuditEvent.model_validate(r) for r in rows], total=total)
