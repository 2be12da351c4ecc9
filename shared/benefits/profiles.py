"""The patient's long-term-care profile (장기요양 인정 정보): grade, recognition number and
validity, co-payment class; effective-dated with its history kept.

Only the owning guardian and operators see or change it (PatientAction.MANAGE_BENEFITS); every
read and change is audited. A patient without a recorded profile keeps working: the profile is
derived from its `care_level` with the standard 15 % co-payment (`source: care_level`). A
profile in force today also sets the patient's `care_level` (matching and care plans read it).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from models.benefits import CopayClass, LtcProfile, LtcProfileHistory, LtcProfileUpdate
from models.dates import korea_today
from models.vocabularies import CareLevel
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.benefits import repository as repo
from shared.errors import FieldError, NotFoundError, ValidationFailedError

if TYPE_CHECKING:
    from shared.db import Cursor
    from shared.unit_of_work import UnitOfWork

RESOURCE = "ltc_profile"
STANDARD_COPAY_PERCENT = 15


def profile_on(cur: Cursor, patient_id: int, day: date) -> LtcProfile:
    """The profile in force on `day`, or the one derived from the patient's care_level."""
    row = repo.profile_on(cur, patient_id, day)
    if row is not None:
        return from_row(row)
    care_level = repo.patient_care_level(cur, patient_id)
    if care_level is None:
        raise NotFoundError("No such patient, or it is not in your care.")
    return derived(patient_id, care_level)


def derived(patient_id: int, care_level: str) -> LtcProfile:
    """No recorded profile: the one derived from the patient's care_level, with the standard
    co-payment."""
    return LtcProfile(
        profile_id=None,
        patient_id=patient_id,
        grade=care_level,
        grade_label=CareLevel(care_level).label,
        recognition_number=None,
        recognition_valid_from=None,
        recognition_valid_to=None,
        copay_percent=STANDARD_COPAY_PERCENT,
        copay_label=CopayClass(str(STANDARD_COPAY_PERCENT)).label,
        effective_from=None,
        source="care_level",
    )


def get_profile(uow: UnitOfWork, patient_id: int) -> LtcProfileHistory:
    """Today's profile and every recorded one (owner guardian, operators); audited as a view."""
    uow.authorize(patient_id, PatientAction.MANAGE_BENEFITS)
    cur = uow.cursor
    answer = LtcProfileHistory(
        patient_id=patient_id,
        current=profile_on(cur, patient_id, korea_today()),
        history=[from_row(row) for row in repo.profile_history(cur, patient_id)],
    )
    uow.audit(AuditAction.VIEW, RESOURCE, patient_id=patient_id, resource_id=patient_id)
    return answer


def set_profile(uow: UnitOfWork, patient_id: int, body: LtcProfileUpdate) -> LtcProfileHistory:
    """Record a profile from `effective_from` on; one already starting that day is superseded
    (kept in the history). Audited with what changed."""
    uow.authorize(patient_id, PatientAction.MANAGE_BENEFITS)
    _check(body)
    cur = uow.cursor
    cur.execute("SELECT 1 FROM patients WHERE patient_id = %s FOR UPDATE", (patient_id,))
    superseded = repo.supersede(cur, patient_id, body.effective_from)
    values = body.model_dump(exclude={"grade"}) | {"grade": body.grade.value}
    profile_id = repo.insert_profile(cur, patient_id, values, uow.principal.user_id)
    today = korea_today()
    in_force = repo.profile_on(cur, patient_id, today)
    if in_force is not None:
        repo.set_care_level(cur, patient_id, in_force["grade"])
    uow.audit(
        AuditAction.UPDATE,
        RESOURCE,
        patient_id=patient_id,
        resource_id=profile_id,
        detail={
            "grade": body.grade.value,
            "copay_percent": body.copay_percent,
            "effective_from": body.effective_from.isoformat(),
            "superseded_profile_id": superseded,
        },
    )
    return LtcProfileHistory(
        patient_id=patient_id,
        current=profile_on(cur, patient_id, today),
        history=[from_row(row) for row in repo.profile_history(cur, patient_id)],
    )


def _check(body: LtcProfileUpdate) -> None:
    """The rules across fields, each a 422 naming its field."""
    errors = []
    if body.grade != CareLevel.NONE and body.recognition_number is None:
        errors.append(_field("recognition_number", "required for a graded patient"))
    valid_from, valid_to = body.recognition_valid_from, body.recognition_valid_to
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        errors.append(_field("recognition_valid_to", "before recognition_valid_from"))
    if errors:
        raise ValidationFailedError(errors)


def _field(name: str, message: str) -> FieldError:
    return FieldError(loc=("body", name), msg=message)


def from_row(row: repo.ProfileRow) -> LtcProfile:
    return LtcProfile(
        profile_id=row["profile_id"],
        patient_id=row["patient_id"],
        grade=row["grade"],
        grade_label=CareLevel(row["grade"]).label,
        recognition_number=row["recognition_number"],
        recognition_valid_from=row["recognition_valid_from"],
        recognition_valid_to=row["recognition_valid_to"],
        copay_percent=row["copay_percent"],
        copay_label=CopayClass(str(row["copay_percent"])).label,
        effective_from=row["effective_from"],
        note=row["note"],
        superseded_at=row["superseded_at"],
        created_at=row["created_at"],
        source="profile",
    )
