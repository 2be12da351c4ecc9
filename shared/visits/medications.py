"""The medication administration record (MAR): per visit and medication of the patient, given,
refused, missed or not applicable, with the time.

- read (READ_CARE): the owning guardian, the caregiver of an active matching, operators; per
  visit (every medication of the patient, with this visit's outcome or none yet) and per patient
  over a period (`patient_administrations`, the month view).
- record (RECORD_VISIT): the visit's own caregiver, while the visit is in progress (409 after
  check-out: the visit is locked). Recording again replaces the visit's entry for that
  medication. `administered_at` is required for `given` and, when given, lies within the visit:
  not before its check-in nor after now (a phone's clock may be `CLOCK_SKEW` off either way).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.common import Page
from models.visit_details import (
    AdministrationRecord,
    AdministrationsQuery,
    MedicationAdministration,
    VisitMedication,
    VisitMedications,
)
from models.vocabularies import MedicationOutcome
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.errors import NotFoundError
from shared.errors import body_field_error as _field
from shared.visits import details_repository as repo
from shared.visits.access import VisitRef, visit_access
from shared.visits.checklist import require_open

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork
    from shared.visits.details_repository import AdministrationRow, VisitMedicationRow

#: How far a phone's clock may be off the server's when it stamps a dose.
CLOCK_SKEW = timedelta(minutes=5)


def list_for_visit(uow: UnitOfWork, visit_id: int) -> VisitMedications:
    visit = visit_access(uow, visit_id, PatientAction.READ_CARE)
    rows = repo.visit_medications(uow.cursor, visit.visit_id, visit.patient_id)
    uow.audit(
        AuditAction.VIEW,
        "medication_administration",
        patient_id=visit.patient_id,
        resource_id=visit_id,
    )
    return VisitMedications(visit_id=visit.visit_id, items=[_visit_medication(r) for r in rows])


def record(
    uow: UnitOfWork, visit_id: int, medication_id: int, body: AdministrationRecord
) -> VisitMedication:
    visit = visit_access(uow, visit_id, PatientAction.RECORD_VISIT, for_update=True)
    cur = uow.cursor
    if repo.visit_medication(cur, visit.visit_id, visit.patient_id, medication_id) is None:
        raise NotFoundError("No such medication of this patient.")
    require_open(visit, "medications")
    if body.administered_at is not None:
        _within_visit(visit, body.administered_at, repo.server_now(cur))
    repo.upsert_administration(
        cur,
        visit_id=visit.visit_id,
        patient_id=visit.patient_id,
        medication_id=medication_id,
        outcome=body.outcome.value,
        administered_at=body.administered_at,
        note=body.note,
        user_id=uow.principal.user_id,
    )
    row = repo.visit_medication(cur, visit.visit_id, visit.patient_id, medication_id)
    assert row is not None
    uow.audit(
        AuditAction.UPDATE,
        "medication_administration",
        patient_id=visit.patient_id,
        resource_id=row["administration_id"],
        detail={
            "visit_id": visit.visit_id,
            "medication_id": medication_id,
            "outcome": body.outcome.value,
        },
    )
    return _visit_medication(row)


def patient_administrations(
    uow: UnitOfWork, patient_id: int, query: AdministrationsQuery
) -> Page[MedicationAdministration]:
    """The patient's administrations at visits planned in the period (Korea days)."""
    uow.authorize(patient_id, PatientAction.READ_CARE)
    assert query.from_ is not None
    assert query.to is not None
    rows, total = repo.patient_administrations(
        uow.cursor, patient_id, query.from_, query.to, limit=query.limit, offset=query.offset
    )
    uow.audit(
        AuditAction.VIEW,
        "medication_administration",
        patient_id=patient_id,
        detail={"from": query.from_.isoformat(), "to": query.to.isoformat(), "rows": len(rows)},
    )
    return Page[MedicationAdministration](items=[_administration(r) for r in rows], total=total)


def _within_visit(visit: VisitRef, at: datetime, now: datetime) -> None:
    started = visit.check_in_at
    if started is not None and at < started - CLOCK_SKEW:
        raise _field("administered_at", "must not be before the visit's check-in")
    if at > now + CLOCK_SKEW:
        raise _field("administered_at", "must not be in the future")


def _visit_medication(row: VisitMedicationRow) -> VisitMedication:
    outcome = MedicationOutcome(row["outcome"]) if row["outcome"] else None
    return VisitMedication.model_validate(
        {**row, "outcome": outcome, "outcome_label": outcome.label if outcome else None}
    )


def _administration(row: AdministrationRow) -> MedicationAdministration:
    outcome = MedicationOutcome(row["outcome"])
    return MedicationAdministration.model_validate(
        {**row, "outcome": outcome, "outcome_label": outcome.label}
    )
