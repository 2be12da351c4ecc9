"""Operator endpoints (admin role only): the audit log, backups and the matching model."""

from __future__ import annotations

from models.admin import BackupList, BackupStarted, ModelStatus
from models.audit import AuditEvent, AuditEventQuery
from models.common import Page, PageQuery
from models.vocabularies import Role
from shared import audit
from shared.errors import ServiceUnavailableError
from shared.http import Api, ApiRequest, ApiResponse
from shared.observability import get_logger

log = get_logger("admin")

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
    rows, total = audit.list_events(
        request.uow.cursor,
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

    request.uow.commit()  # the token check's transaction: the first use may load from Blob
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

    request.uow.commit()  # the token check's transaction: no connection held while Blob answers
    reload_model()
    return ModelStatus.model_validate(model_status())


@api.route(
    "GET",
    "api/admin/backups",
    name="admin_backups",
    query=PageQuery,
    response=BackupList,
    roles=(Role.ADMIN,),
)
def backups(request: ApiRequest) -> BackupList:
    """Backups newest first, with status, size, duration and restore-drill results."""
    from shared.backup.service import backup_overview, list_backups

    uow = request.uow
    items, total = list_backups(uow, limit=request.query.limit, offset=request.query.offset)
    return BackupList(items=items, total=total, overview=backup_overview(uow))


@api.route(
    "POST",
    "api/admin/backups",
    name="admin_backups_start",
    response=BackupStarted,
    status=202,
    roles=(Role.ADMIN,),
    errors=(409, 503),
)
def start_backup(request: ApiRequest) -> ApiResponse:
    """Queue a full backup now; a queue-triggered worker runs it (see GET for its outcome)."""
    from shared.backup.service import JobNotQueued, submit_full_backup

    try:
        run = submit_full_backup(
            request.uow, requested_by=f"admin:{request.user.user_id}", actor=request.actor
        )
    except JobNotQueued as exc:
        # The cause (storage, a path or host name) is for the operators' log, not the caller:
        # the answer says what happened and which request id to look up.
        log.error("backup_on_demand_not_started", backup_id=exc.backup_id, error=exc.cause)
        raise ServiceUnavailableError(
            "The backup could not be queued; the cause is logged under request id "
            f"{request.request_id}.",
            retry_after=60,
        ) from exc
    return ApiResponse(body=BackupStarted.model_validate(run), status=202)
