"""Guardians and patients (API.md "Guardians and patients"): the rules, authorisation and audit.

Every function runs in one transaction: authorise first (`authorize_patient`, or the role rule
for calls that name no patient yet), then read or write, then append the audit event, so the
event commits exactly when the read or change does. The guardian owns a patient and alone
changes it (`PatientAction.MANAGE`); the guardian, the caregiver of an `active` matching and
operators may read it (`PatientAction.READ_PROFILE`).

Audit resource types: `patient` (the profile; one `view` per patient shown, also in lists),
`patient_conditions`, `medication`, `diet`, `personality`, and `guardian` (the guardian's own
profile, changes only, no patient id). Details name changed fields, never their values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2.errors

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
from shared import audit
from shared.audit import AuditAction
from shared.auth.authorization import (
    PatientAction,
    authorize_patient,
    check_role_may,
    require_role,
)
from shared.auth.principal import Actor
from shared.db import Database
from shared.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError
from shared.patients import repository

# -- guardians -------------------------------------------------------------------------------


def put_my_guardian(db: Database, actor: Actor, body: GuardianIn) -> Guardian:
    """Create or replace the signed-in guardian's profile (guardian accounts only)."""
    require_role(actor.principal, Role.GUARDIAN)
    with _writing(db) as cur:
        row, created = repository.upsert_guardian(
            cur,
            actor.user_id,
            address=body.address,
            relationship_to_patient=body.relationship_to_patient,
            emergency_contact=body.emergency_contact,
        )
        audit.record(
            cur,
            actor,
            AuditAction.CREATE if created else AuditAction.UPDATE,
            patient_id=None,
            resource_type="guardian",
            resource_id=row["guardian_id"],
        )
    return Guardian.model_validate(row)


def get_my_guardian(db: Database, actor: Actor) -> Guardian:
    """The signed-in guardian's profile; 404 until PUT created it."""
    require_role(actor.principal, Role.GUARDIAN)
    with db.transaction(readonly=True) as cur:
        row = repository.get_guardian_by_user(cur, actor.user_id)
    if row is None:
        raise NotFoundError("No guardian profile yet: create it with PUT /api/guardians/me.")
    return Guardian.model_validate(row)


# -- patients --------------------------------------------------------------------------------


def create_patient(db: Database, actor: Actor, body: PatientIn) -> Patient:
    """A new patient of the signed-in guardian; 409 without a guardian profile."""
    check_role_may(actor.principal, PatientAction.MANAGE)  # 403 for caregivers and operators
    with _writing(db) as cur:
        guardian = repository.get_guardian_by_user(cur, actor.user_id)
        if guardian is None:
            raise ConflictError(
                "Create your guardian profile (PUT /api/guardians/me) before adding a patient."
            )
        fields = body.model_dump(include=set(repository.PATIENT_FIELDS))
        patient_id = repository.insert_patient(cur, guardian["guardian_id"], _plain(fields))
        audit.record(
            cur,
            actor,
            AuditAction.CREATE,
            patient_id=patient_id,
            resource_type="patient",
            resource_id=patient_id,
        )
        patient = repository.get_patient(cur, patient_id)
    return Patient.model_validate(patient)


def list_patients(db: Database, actor: Actor, query: PageQuery) -> Page[Patient]:
    """The patients the caller may see: a guardian's own, every patient for an operator, and
    for a caregiver the patients it holds an `active` matching with (the same scope as
    `READ_PROFILE`; selected-but-not-accepted offers only show the summary of the offer).

    Each patient listed is one `view` event."""
    role = Role(actor.role)
    scope: dict[str, Any] = {
        Role.GUARDIAN: {"guardian_user_id": actor.user_id},
        Role.CAREGIVER: {"caregiver_user_id": actor.user_id},
        Role.ADMIN: {"every_patient": True},
    }[role]
    with db.transaction() as cur:
        rows, total = repository.list_patients(cur, **scope, limit=query.limit, offset=query.offset)
        audit.record_many(
            cur,
            actor,
            AuditAction.VIEW,
            "patient",
            [(row["patient_id"], row["patient_id"]) for row in rows],
        )
    return Page[Patient](items=[Patient.model_validate(row) for row in rows], total=total)


def get_patient(db: Database, actor: Actor, patient_id: int) -> Patient:
    """The whole patient: profile, conditions, medications, diet and personality."""
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.READ_PROFILE)
        patient = repository.get_patient(cur, patient_id)
        if patient is None:  # deleted since the authorisation query
            raise NotFoundError("No such patient, or it is not in your care.")
        _audit_patient(cur, actor, AuditAction.VIEW, patient_id, "patient")
    return Patient.model_validate(patient)


def update_patient(db: Database, actor: Actor, patient_id: int, body: PatientPatch) -> Patient:
    """Change the fields the guardian sent (PATCH)."""
    changes = body.changes()
    with _writing(db) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        _require(repository.update_patient(cur, patient_id, changes))
        _audit_patient(
            cur, actor, AuditAction.UPDATE, patient_id, "patient", fields=sorted(changes)
        )
        patient = repository.get_patient(cur, patient_id)
    return Patient.model_validate(patient)


def delete_patient(db: Database, actor: Actor, patient_id: int) -> None:
    """Delete the patient and everything recorded about it (the audit log stays)."""
    with _writing(db) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        _require(repository.delete_patient(cur, patient_id))
        _audit_patient(cur, actor, AuditAction.DELETE, patient_id, "patient")


# -- conditions ------------------------------------------------------------------------------


def put_conditions(db: Database, actor: Actor, patient_id: int, body: ConditionsIn) -> ConditionSet:
    """Replace the patient's set of conditions; also set mobility_status when it is given."""
    with _writing(db) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        _require(repository.touch_patient(cur, patient_id))
        repository.replace_conditions(cur, patient_id, [(c.code, c.note) for c in body.conditions])
        _audit_patient(
            cur,
            actor,
            AuditAction.UPDATE,
            patient_id,
            "patient_conditions",
            count=len(body.conditions),
        )
        if "mobility_status" in body.model_fields_set:
            repository.update_patient(
                cur, patient_id, {"mobility_status": str(body.mobility_status)}
            )
            _audit_patient(
                cur, actor, AuditAction.UPDATE, patient_id, "patient", fields=["mobility_status"]
            )
        patient = repository.get_patient(cur, patient_id)
    return ConditionSet(
        patient_id=patient_id,
        conditions=patient["conditions"],
        mobility_status=patient["mobility_status"],
        mobility_status_label=MobilityStatus(patient["mobility_status"]).label,
    )


# -- medications -----------------------------------------------------------------------------


def add_medication(db: Database, actor: Actor, patient_id: int, body: MedicationIn) -> Medication:
    """Record a medication the patient takes."""
    with _writing(db) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        _require(repository.touch_patient(cur, patient_id))
        row = repository.insert_medication(
            cur,
            patient_id,
            name=body.name,
            dosage=body.dosage,
            frequency=body.frequency,
            intake_method=body.intake_method,
        )
        audit.record(
            cur,
            actor,
            AuditAction.CREATE,
            patient_id=patient_id,
            resource_type="medication",
            resource_id=row["medication_id"],
        )
    return Medication.model_validate(row)


def list_medications(
    db: Database, actor: Actor, patient_id: int, query: PageQuery
) -> Page[Medication]:
    """A page of the patient's medications; one `view` event naming the ids shown."""
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.READ_PROFILE)
        rows, total = repository.page_medications(
            cur, patient_id, limit=query.limit, offset=query.offset
        )
        audit.record(
            cur,
            actor,
            AuditAction.VIEW,
            patient_id=patient_id,
            resource_type="medication",
            detail={"medication_ids": [row["medication_id"] for row in rows]},
        )
    return Page[Medication](items=[Medication.model_validate(r) for r in rows], total=total)


def delete_medication(db: Database, actor: Actor, patient_id: int, medication_id: int) -> None:
    """Remove one medication; 404 when it is not this patient's (or the patient not yours)."""
    with _writing(db) as cur:
        owner = repository.medication_patient_id(cur, medication_id)
        # A medication of another patient is as missing as one that does not exist.
        authorize_patient(
            cur,
            actor.principal,
            patient_id if owner == patient_id else None,
            PatientAction.MANAGE,
        )
        _require(repository.touch_patient(cur, patient_id))
        _require(repository.delete_medication(cur, medication_id), "medication")
        audit.record(
            cur,
            actor,
            AuditAction.DELETE,
            patient_id=patient_id,
            resource_type="medication",
            resource_id=medication_id,
        )


# -- diet and personality --------------------------------------------------------------------


def put_diet(db: Database, actor: Actor, patient_id: int, body: DietIn) -> Diet:
    """Set the patient's diet type and allergens (replaces them)."""
    with _writing(db) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        _require(repository.touch_patient(cur, patient_id))
        diet, created = repository.upsert_diet(
            cur, patient_id, diet_type=body.diet_type, allergens=body.allergens
        )
        _audit_patient(cur, actor, _created_or_updated(created), patient_id, "diet")
    return Diet.model_validate(diet)


def put_personality(
    db: Database, actor: Actor, patient_id: int, body: PersonalityIn
) -> Personality:
    """Set the patient's four personality axes by hand (source `manual`)."""
    with _writing(db) as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        _require(repository.touch_patient(cur, patient_id))
        personality, created = repository.upsert_personality(
            cur, patient_id, body.model_dump(), source="manual"
        )
        _audit_patient(cur, actor, _created_or_updated(created), patient_id, "personality")
    return Personality.model_validate(personality)


# -- helpers ---------------------------------------------------------------------------------


@contextmanager
def _writing(db: Database) -> Iterator[Any]:
    """A transaction whose foreseeable constraint errors become API errors (after rollback).

    The models repeat every CHECK, so these are the last line of defence (and races)."""
    try:
        with db.transaction() as cur:
            yield cur
    except (psycopg2.errors.CheckViolation, psycopg2.errors.NotNullViolation) as exc:
        field = exc.diag.column_name or _field_of(exc.diag.table_name, exc.diag.constraint_name)
        raise ValidationFailedError(
            [FieldError(loc=("body", field) if field else ("body",), msg="value not allowed here")]
        ) from None
    except (psycopg2.errors.UniqueViolation, psycopg2.errors.ForeignKeyViolation):
        raise ConflictError(
            "The patient was changed at the same time by another request; try again."
        ) from None


def _field_of(table: str | None, constraint: str | None) -> str | None:
    """`patients_height_cm_check` -> `height_cm` (PostgreSQL's names for column CHECKs)."""
    if not table or not constraint:
        return None
    prefix, suffix = f"{table}_", "_check"
    if constraint.startswith(prefix) and constraint.endswith(suffix):
        return constraint[len(prefix) : -len(suffix)] or None
    return None


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
    cur: Any,
    actor: Actor,
    action: AuditAction,
    patient_id: int,
    resource_type: str,
    **detail: Any,
) -> None:
    """One event about a resource of the patient that is addressed by the patient's id."""
    audit.record(
        cur,
        actor,
        action,
        patient_id=patient_id,
        resource_type=resource_type,
        resource_id=patient_id,
        detail=detail or None,
    )
