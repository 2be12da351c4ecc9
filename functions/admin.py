"""Operator endpoints (admin role only): the audit log, backups and the matching model."""

from __future__ import annotations

from models.admin import ModelStatus
from models.audit import AuditEvent, AuditEventQuery
from models.common import Page
from models.vocabularies import Role
from shared import audit
from shared.db import get_database
from shared.http import Api, ApiRequest

api = Api(tag="admin")
bp = api.blueprint


@api.route(
    "GET",
    "api/admin/audit-events",
    name="admin_audit_events",
    roles=(Role.ADMIN,),
    query=AuditEventQuery,
    response=Page[AuditEvent],
    errors=(422,),
)
def audit_events(request: ApiRequest) -> Page[AuditEvent]:
    """Who read or changed which patient's data, when and from where."""
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


@api.route("GET", "api/admin/model", name="admin_model", response=ModelStatus, roles=(Role.ADMIN,))
def model(request: ApiRequest) -> ModelStatus:
    """The matching model serving now: kind, version, metrics, when and where it was loaded."""
    from shared.matching.model_registry import model_status

    return ModelStatus.model_validate(model_status())


@api.route(
    "POST",
    "api/admin/model/reload",
    name="admin_model_reload",
    response=ModelStatus,
    roles=(Role.ADMIN,),
)
def model_reload(request: ApiRequest) -> ModelStatus:
    """Load the newest published model now (the previous one keeps serving on any failure)."""
    from shared.matching.model_registry import model_status, reload_model

    reload_model()
    return ModelStatus.model_validate(model_status())
