"""Caregivers (API.md "Caregivers"): a caregiver's own profile, availability and personality,
and the public card any signed-in user may read.

A caregiver's profile is not patient data, so nothing here writes audit events; but each change
is one transaction, so a refused request (422, 409) leaves every table as it was.
"""

from __future__ import annotations

from typing import Any

import psycopg2.errorcodes
import psycopg2.errors

from models.caregivers import (
    Availability,
    AvailabilityIn,
    AvailabilitySlotIn,
    CaregiverCard,
    CaregiverPersonality,
    CaregiverPersonalityIn,
    CaregiverProfile,
    CaregiverProfileIn,
)
from models.vocabularies import Certification, Role, Specialty
from shared.auth.authorization import require_role
from shared.auth.principal import Actor, Principal
from shared.caregivers import repository
from shared.db import Database
from shared.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError

NO_PROFILE_YET = (
    "You have no caregiver profile yet: create your caregiver profile first "
    "(PUT /api/caregivers/me)."
)
#: The columns of `caregivers` a request body sets, for naming the field of a CHECK violation.
_PROFILE_FIELDS = ("experience_years", "service_region", "has_vehicle", "hourly_rate", "bio")


def put_profile(db: Database, actor: Actor, body: CaregiverProfileIn) -> CaregiverProfile:
    """Create or replace the caller's profile; certifications and specialties are replaced."""
    principal = actor.principal
    require_role(principal, Role.CAREGIVER)
    try:
        with db.transaction() as cur:
            caregiver_id = repository.upsert_profile(
                cur,
                principal.user_id,
                experience_years=body.experience_years,
                service_region=body.service_region,
                has_vehicle=body.has_vehicle,
                hourly_rate=body.hourly_rate,
                bio=body.bio,
            )
            repository.replace_certifications(
                cur, caregiver_id, [str(c) for c in body.certifications]
            )
            repository.replace_specialties(cur, caregiver_id, [str(s) for s in body.specialties])
            return _profile(cur, caregiver_id)
    except (psycopg2.errors.CheckViolation, psycopg2.errors.NotNullViolation) as exc:
        raise _field_error(exc) from None


def get_profile(db: Database, actor: Actor) -> CaregiverProfile:
    """The caller's whole profile; 404 until it has been created."""
    principal = actor.principal
    require_role(principal, Role.CAREGIVER)
    with db.transaction(readonly=True) as cur:
        caregiver_id = repository.caregiver_id_for_user(cur, principal.user_id)
        if caregiver_id is None:
            raise NotFoundError(NO_PROFILE_YET)
        return _profile(cur, caregiver_id)


def get_card(db: Database, actor: Actor, caregiver_id: int) -> CaregiverCard:
    """The public card of a caregiver, for any signed-in user; 404 for unknown or closed ones."""
    with db.transaction(readonly=True) as cur:
        card = repository.caregiver_card(cur, caregiver_id, only_active=True)
    if card is None:
        raise NotFoundError(f"No caregiver has caregiver_id {caregiver_id}.")
    return CaregiverCard.model_validate(card)


def put_availability(db: Database, actor: Actor, body: AvailabilityIn) -> Availability:
    """Replace the caller's weekly availability; 422 naming each slot that overlaps another."""
    principal = actor.principal
    require_role(principal, Role.CAREGIVER)
    overlaps = overlapping_slots(body.slots)
    if overlaps:
        raise ValidationFailedError(
            [
                FieldError(
                    loc=("body", "slots", index),
                    msg=f"overlaps slot {other} on the same day ({body.slots[other].day})",
                )
                for index, other in overlaps
            ]
        )
    with db.transaction() as cur:
        caregiver_id = _own_caregiver_id_locked(cur, principal)
        repository.replace_availability(
            cur, caregiver_id, [(str(s.day), s.start, s.end) for s in body.slots]
        )
        return Availability(slots=repository.list_availability(cur, caregiver_id))


def put_personality(
    db: Database, actor: Actor, body: CaregiverPersonalityIn
) -> CaregiverPersonality:
    """Set the caller's four personality axes (entered by hand: source `manual`)."""
    principal = actor.principal
    require_role(principal, Role.CAREGIVER)
    with db.transaction() as cur:
        caregiver_id = _own_caregiver_id_locked(cur, principal)
        row = repository.upsert_personality(cur, caregiver_id, body.model_dump(), source="manual")
    return CaregiverPersonality.model_validate(row)


def overlapping_slots(slots: list[AvailabilitySlotIn]) -> list[tuple[int, int]]:
    """(index, earlier index) for each slot that overlaps an earlier slot of the same day.

    Slots that only touch (09:00-12:00 and 12:00-15:00) do not overlap.
    """
    found: list[tuple[int, int]] = []
    for index, slot in enumerate(slots):
        for other in range(index):
            earlier = slots[other]
            if earlier.day == slot.day and slot.start < earlier.end and earlier.start < slot.end:
                found.append((index, other))
                break
    return found


# -- helpers ---------------------------------------------------------------------------------


def _own_caregiver_id_locked(cur: Any, principal: Principal) -> int:
    """The caller's caregiver_id, its row locked for this transaction; 409 without a profile."""
    caregiver_id = repository.caregiver_id_for_user(cur, principal.user_id, for_update=True)
    if caregiver_id is None:
        raise ConflictError(NO_PROFILE_YET)
    return caregiver_id


def _profile(cur: Any, caregiver_id: int) -> CaregiverProfile:
    row = repository.get_profile_row(cur, caregiver_id)
    if row is None:  # deleted by a concurrent transaction between two statements
        raise NotFoundError(NO_PROFILE_YET)
    return CaregiverProfile.model_validate(
        {
            **row,
            "certification_labels": {
                code: Certification(code).label for code in row["certifications"]
            },
            "specialty_labels": {code: Specialty(code).label for code in row["specialties"]},
            "availability": repository.list_availability(cur, caregiver_id),
            "personality": repository.get_personality(cur, caregiver_id),
        }
    )


def _field_error(exc: psycopg2.Error) -> ValidationFailedError:
    """A CHECK the request model should have caught: 422 naming the column when we can."""
    constraint = getattr(exc.diag, "constraint_name", None) or ""
    column = getattr(exc.diag, "column_name", None) or ""
    if exc.pgcode == psycopg2.errorcodes.CHECK_VIOLATION and constraint.startswith(
        ("caregiver_certifications_", "caregiver_specialties_")
    ):
        column = "certifications" if "certifications" in constraint else "specialties"
    else:
        column = next((f for f in _PROFILE_FIELDS if f in constraint or f == column), column)
    loc: tuple[str, ...] = ("body", column) if column else ("body",)
    return ValidationFailedError([FieldError(loc=loc, msg="value refused by the database")])
