"""Incidents: what happened to a patient during care, how severe, what was done, and the
follow-up (API.md "Incidents").

Who may do what (shared.auth.authorization):
- report (RECORD_VISIT): the caregiver of an active matching. Operators may report too
  (REVIEW_VISITS: e.g. an incident phoned in to the office); guardians do not report here (403).
  A `visit_id` must be a visit of the patient and, for a caregiver, one of their own (422).
- read (READ_CARE): the owning guardian, the caregiver of an active matching, operators.
- follow up (REVIEW_VISITS): operators set `follow_up_status` and `follow_up_note`.

A report publishes INCIDENT to the guardian and to operators at once, `urgent` (quiet hours do
not hold it back), in the report's transaction (shared.notifications.outbox).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from models.common import Page
from models.incidents import Incident, IncidentCreate, IncidentsQuery, IncidentUpdate
from models.vocabularies import (
    FollowUpStatus,
    IncidentKind,
    IncidentSeverity,
    NotificationEvent,
    Role,
)
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.errors import NotFoundError
from shared.errors import body_field_error as _field
from shared.incidents import repository as repo
from shared.notifications.outbox import Notice, publish

if TYPE_CHECKING:
    from shared.incidents.repository import IncidentRow
    from shared.unit_of_work import UnitOfWork

#: How far a phone's clock may be ahead of the server's when it stamps `occurred_at`.
CLOCK_SKEW = timedelta(minutes=5)


def report(uow: UnitOfWork, patient_id: int, body: IncidentCreate) -> Incident:
    principal = uow.principal
    action = (
        PatientAction.REVIEW_VISITS if principal.role == Role.ADMIN else PatientAction.RECORD_VISIT
    )
    uow.authorize(patient_id, action)
    cur = uow.cursor
    if body.visit_id is not None:
        served_by = repo.visit_of_patient(cur, body.visit_id, patient_id)
        if served_by is None or (
            principal.role == Role.CAREGIVER and served_by != principal.user_id
        ):
            raise _field("visit_id", "is not a visit of this patient that you served")
    if body.occurred_at > repo.server_now(cur) + CLOCK_SKEW:
        raise _field("occurred_at", "must not be in the future")
    incident_id = repo.insert_incident(
        cur,
        patient_id=patient_id,
        visit_id=body.visit_id,
        user_id=principal.user_id,
        kind=body.kind.value,
        severity=body.severity.value,
        occurred_at=body.occurred_at,
        description=body.description,
        actions_taken=body.actions_taken,
    )
    incident = _incident(_found(repo.get_incident(cur, incident_id)))
    publish(
        uow,
        Notice(
            NotificationEvent.INCIDENT,
            key=f"incident:{incident_id}",
            patient_id=patient_id,
            data={
                "incident_id": incident_id,
                "visit_id": incident.visit_id,
                "kind": incident.kind.value,
                "kind_label": incident.kind_label,
                "severity": incident.severity.value,
                "severity_label": incident.severity_label,
                "occurred_at": incident.occurred_at.isoformat(),
                "actions_taken": incident.actions_taken,
            },
            urgent=True,
            to_guardian=True,
            to_operators=True,
        ),
    )
    uow.audit(
        AuditAction.CREATE,
        "incident",
        patient_id=patient_id,
        resource_id=incident_id,
        detail={"kind": incident.kind.value, "severity": incident.severity.value},
    )
    return incident


def list_for_patient(uow: UnitOfWork, patient_id: int, query: IncidentsQuery) -> Page[Incident]:
    uow.authorize(patient_id, PatientAction.READ_CARE)
    status = query.follow_up_status.value if query.follow_up_status else None
    rows, total = repo.patient_incidents(
        uow.cursor, patient_id, status, limit=query.limit, offset=query.offset
    )
    if rows:
        uow.audit_many(AuditAction.VIEW, "incident", [(patient_id, r["incident_id"]) for r in rows])
    else:
        uow.audit(AuditAction.VIEW, "incident", patient_id=patient_id)
    return Page[Incident](items=[_incident(r) for r in rows], total=total)


def get(uow: UnitOfWork, incident_id: int) -> Incident:
    cur = uow.cursor
    uow.authorize(repo.incident_patient_id(cur, incident_id), PatientAction.READ_CARE)
    row = _found(repo.get_incident(cur, incident_id))
    uow.audit(AuditAction.VIEW, "incident", patient_id=row["patient_id"], resource_id=incident_id)
    return _incident(row)


def follow_up(uow: UnitOfWork, incident_id: int, body: IncidentUpdate) -> Incident:
    cur = uow.cursor
    patient_id = uow.authorize(
        repo.incident_patient_id(cur, incident_id, for_update=True), PatientAction.REVIEW_VISITS
    ).patient_id
    given = body.model_fields_set
    repo.update_follow_up(
        cur,
        incident_id,
        status=body.follow_up_status.value if body.follow_up_status else None,
        note=body.follow_up_note,
        set_note="follow_up_note" in given,
    )
    uow.audit(
        AuditAction.UPDATE,
        "incident",
        patient_id=patient_id,
        resource_id=incident_id,
        detail={"fields": sorted(given & {"follow_up_status", "follow_up_note"})},
    )
    return _incident(_found(repo.get_incident(cur, incident_id)))


def _found(row: IncidentRow | None) -> IncidentRow:
    if row is None:
        raise NotFoundError("No such incident, or it is not in your care.")
    return row


def _incident(row: IncidentRow) -> Incident:
    kind = IncidentKind(row["kind"])
    severity = IncidentSeverity(row["severity"])
    follow = FollowUpStatus(row["follow_up_status"])
    return Incident.model_validate(
        {
            **row,
            "kind": kind,
            "kind_label": kind.label,
            "severity": severity,
            "severity_label": severity.label,
            "follow_up_status": follow,
            "follow_up_label": follow.label,
        }
    )
