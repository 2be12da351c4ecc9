"""Guardians and patients (API.md "Guardians and patients"): the rules, authorisation and audit.

Every function takes the request's unit of work (shared.unit_of_work) and does its work in the
one transaction it holds: authorise first (`uow.authorize`, or the role rule for calls that name
no patient yet), then read or write, then append the audit event (`uow.audit`), so the event
commits exactly when the read or change does. The guardian owns a patient and alone
changes it (`PatientAction.MANAGE`); the guardian, the caregiver of an `active` matching and
operators may read it (`PatientAction.READ_PROFILE`).

Audit resource types: `patient` (the profile; one `view` per patient shown, also in lists),
`patient_conditions`, `medication`, `diet`, `personality`, and `guardian` (the guardian's own
profile, changes only, no patient id). Details name changed fields, never their values.
"""

from __future__ import annotations

from typing import Any

from models.common import Page, PageQuery
from models.patients import (
    ConditionSet,
    ConditionsIn,
    Diet,
    DietIn,
    Guardian,
    GuardianIn,
    Medication,
    MedicationIn,
    Patient,
    PatientIn,
    PatientPatch,
    Personality,
    PersonalityIn,
)
from models.vocabularies import MobilityStatus, Role
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, check_role_may, require_role
from shared.config import get_settings
from shared.db import Cursor
from shared.errors import ConflictError, NotFoundError
from shared.patients import repository
from shared.unit_of_work import UnitOfWork

# -- guardians -------------------------------------------------------------------------------


def put_my_guardian(uow: UnitOfWork, body: GuardianIn) -> Guardian:
    """Create or replace the signed-in guardian's profile (guardian accounts only)."""
    require_role(uow.principal, Role.GUARDIAN)
    row, created = repository.upsert_guardian(
        uow.cursor,
        uow.principal.user_id,
        address=body.address,
        relationship_to_patient=body.relationship_to_patient,
        emergency_contact=body.emergency_contact,
    )
    uow.audit(
        _created_or_updated(created),
        "guardian",
        patient_id=None,
        resource_id=row["guardian_id"],
    )
    return Guardian.model_validate(row)


def get_my_guardian(uow: UnitOfWork) -> Guardian:
    """The signed-in guardian's profile; 404 until PUT created it."""
    require_role(uow.principal, Role.GUARDIAN)
    row = repository.get_guardian_by_user(uow.cursor, uow.principal.user_id)
    if row is None:
        raise NotFoundError("No guardian profile yet: create it with PUT /api/guardians/me.")
    return Guardian.model_validate(row)


# -- patients --------------------------------------------------------------------------------


def create_patient(uow: UnitOfWork, body: PatientIn) -> Patient:
    """A new patient of the signed-in guardian; 409 without a guardian profile."""
    check_role_may(uow.principal, PatientAction.MANAGE)  # 403 for caregivers and operators
    cur = uow.cursor
    guardian = repository.get_guardian_by_user(cur, uow.principal.user_id)
    if guardian is None:
        raise ConflictError(
            "Create your guardian profile (PUT /api/guardians/me) before adding a patient."
        )
    fields = body.model_dump(include=set(repository.PATIENT_FIELDS))
    patient_id = repository.insert_patient(cur, guardian["guardian_id"], _plain(fields))
    uow.audit(AuditAction.CREATE, "patient", patient_id=patient_id, resource_id=patient_id)
    return Patient.model_validate(repository.get_patient(cur, patient_id))


def list_patients(uow: UnitOfWork, query: PageQuery) -> Page[Patient]:
    """The patients the caller may see: a guardian's own, every patient for an operator, and
    for a caregiver the patients it holds an `active` matching with (the same scope as
    `READ_PROFILE`; selected-but-not-accepted offers only show the summary of the offer).

    Each patient listed is one `view` event."""
    user_id = uow.principal.user_id
    scopes: dict[Role, dict[str, Any]] = {
        Role.GUARDIAN: {"guardian_user_id": user_id},
        Role.CAREGIVER: {"caregiver_user_id": user_id},
        Role.ADMIN: {"every_patient": True},
    }
    scope = scopes[Role(uow.principal.role)]
    rows, total = repository.list_patients(
        uow.cursor, **scope, limit=query.limit, offset=query.offset
    )
    uow.audit_many(
        AuditAction.VIEW, "patient", [(row["patient_id"], row["patient_id"]) for row in rows]
    )
    return Page[Patient](items=[Patient.model_validate(row) for row in rows], total=total)


def get_patient(uow: UnitOfWork, patient_id: int) -> Patient:
    """The whole patient: profile, conditions, medications, diet and personality."""
    uow.authorize(patient_id, PatientAction.READ_PROFILE)
    patient = repository.get_patient(uow.cursor, patient_id)
    if patient is None:  # deleted since the authorisation query
        raise NotFoundError("No such patient, or it is not in your care.")
    _audit_patient(uow, AuditAction.VIEW, patient_id, "patient")
    return Patient.model_validate(patient)


def update_patient(uow: UnitOfWork, patient_id: int, body: PatientPatch) -> Patient:
    """Change the fields the guardian sent (PATCH)."""
    changes = body.changes()
    uow.authorize(patient_id, PatientAction.MANAGE)
    _require(repository.update_patient(uow.cursor, patient_id, changes))
    _audit_patient(uow, AuditAction.UPDATE, patient_id, "patient", fields=sorted(changes))
    return Patient.model_validate(repository.get_patient(uow.cursor, patient_id))


def delete_patient(uow: UnitOfWork, patient_id: int) -> None:
    """Delete the patient and everything recorded about it (the audit log stays)."""
    uow.authorize(patient_id, PatientAction.MANAGE)
    _require(repository.delete_patient(uow.cursor, patient_id))
    _audit_patient(uow, AuditAction.DELETE, patient_id, "patient")


# -- conditions ------------------------------------------------------------------------------


def put_conditions(uow: UnitOfWork, patient_id: int, body: ConditionsIn) -> ConditionSet:
    """Replace the patient's set of conditions; also set mobility_status when it is given."""
    cur = _lock_for_change(uow, patient_id)
    repository.replace_conditions(cur, patient_id, [(c.code, c.note) for c in body.conditions])
    _audit_patient(
        uow, AuditAction.UPDATE, patient_id, "patient_conditions", count=len(body.conditions)
    )
    if "mobility_status" in body.model_fields_set:
        repository.update_patient(cur, patient_id, {"mobility_status": str(body.mobility_status)})
        _audit_patient(uow, AuditAction.UPDATE, patient_id, "patient", fields=["mobility_status"])
    patient = repository.get_patient(cur, patient_id)
    _require(patient is not None)
    assert patient is not None
    return ConditionSet(
        patient_id=patient_id,
        conditions=patient["conditions"],
        mobility_status=patient["mobility_status"],
        mobility_status_label=MobilityStatus(patient["mobility_status"]).label,
    )


# -- medications -----------------------------------------------------------------------------


def add_medication(uow: UnitOfWork, patient_id: int, body: MedicationIn) -> Medication:
    """Record a medication the patient takes; 409 when the patient already has
    `MAX_MEDICATIONS_PER_PATIENT` (counted under the patient lock, so concurrent additions
    cannot pass the cap together)."""
    cur = _lock_for_change(uow, patient_id)
    cap = get_settings().max_medications_per_patient
    _, count = repository.page_medications(cur, patient_id, limit=0, offset=0)  # the count only
    if count >= cap:
        raise ConflictError(
            f"This patient already has {count} medications, the most one patient may have"
            f" ({cap}). Remove one that is no longer taken before adding another."
        )
    row = repository.insert_medication(
        cur,
        patient_id,
        name=body.name,
        dosage=body.dosage,
        frequency=body.frequency,
        intake_method=body.intake_method,
    )
    uow.audit(
        AuditAction.CREATE, "medication", patient_id=patient_id, resource_id=row["medication_id"]
    )
    return Medication.model_validate(row)


def list_medications(uow: UnitOfWork, patient_id: int, query: PageQuery) -> Page[Medication]:
    """A page of the patient's medications; one `view` event naming the ids shown."""
    uow.authorize(patient_id, PatientAction.READ_PROFILE)
    rows, total = repository.page_medications(
        uow.cursor, patient_id, limit=query.limit, offset=query.offset
    )
    uow.audit(
        AuditAction.VIEW,
        "medication",
        patient_id=patient_id,
        detail={"medication_ids": [row["medication_id"] for row in rows]},
    )
    return Page[Medication](items=[Medication.model_validate(r) for r in rows], total=total)


def delete_medication(uow: UnitOfWork, patient_id: int, medication_id: int) -> None:
    """Remove one medication; 404 when it is not this patient's (or the patient not yours)."""
    owner = repository.medication_patient_id(uow.cursor, medication_id)
    # A medication of another patient is as missing as one that does not exist.
    cur = _lock_for_change(uow, patient_id if owner == patient_id else None)
    _require(repository.delete_medication(cur, medication_id), "medication")
    uow.audit(AuditAction.DELETE, "medication", patient_id=patient_id, resource_id=medication_id)


# -- diet and personality --------------------------------------------------------------------


def put_diet(uow: UnitOfWork, patient_id: int, body: DietIn) -> Diet:
    """Set the patient's diet type and allergens (replaces them)."""
    cur = _lock_for_change(uow, patient_id)
    diet, created = repository.upsert_diet(
        cur, patient_id, diet_type=body.diet_type, allergens=body.allergens
    )
    _audit_patient(uow, _created_or_updated(created), patient_id, "diet")
    return Diet.model_validate(diet)


def put_personality(uow: UnitOfWork, patient_id: int, body: PersonalityIn) -> Personality:
    """Set the patient's four personality axes by hand (source `manual`)."""
    cur = _lock_for_change(uow, patient_id)
    personality, created = repository.upsert_personality(
        cur, patient_id, body.model_dump(), source="manual"
    )
    _audit_patient(uow, _created_or_updated(created), patient_id, "personality")
    return Personality.model_validate(personality)


# -- helpers ---------------------------------------------------------------------------------


def _lock_for_change(uow: UnitOfWork, patient_id: int | None) -> Cursor:
    """Authorise MANAGE, then lock the patient for this change and stamp it changed (404 when
    it was deleted in between); the cursor to make the change with."""
    uow.authorize(patient_id, PatientAction.MANAGE)
    assert patient_id is not None  # authorize answers 404 for a missing patient
    _require(repository.lock_patient(uow.cursor, patient_id, profile_changed=True))
    return uow.cursor


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """Vocabulary enums as their plain string codes, for the database driver."""
    return {k: str(v) if isinstance(v, str) else v for k, v in fields.items()}


def _require(found: bool, what: str = "patient") -> None:
    """404 when a row the authorisation saw is gone (deleted by a request that just committed)."""
    if not found:
        raise NotFoundError(f"No such {what}, or it is not in your care.")


def _created_or_updated(created: bool) -> AuditAction:
    return AuditAction.CREATE if created else AuditAction.UPDATE


def _audit_patient(
    uow: UnitOfWork, action: AuditAction, patient_id: int, resource_type: str, **detail: object
) -> None:
    """One event about a resource of the patient that is addressed by the patient's id."""
    uow.audit(
        action, resource_type, patient_id=patient_id, resource_id=patient_id, detail=detail or None
    )
