"""Caregivers (API.md "Caregivers"): a caregiver's own profile, availability and personality,
and the public card any signed-in user may read.

Every function takes the request's unit of work (shared.unit_of_work) and does its work in the
one transaction it holds. A caregiver's profile is not patient data, so nothing here writes audit
events; but each change is one transaction, so a refused request (422, 409) leaves every table
as it was. A value the database refuses (a CHECK the request model should have caught) is a 422
naming its field, by the constraints shared/caregivers/repository.py registers.
"""

from __future__ import annotations

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
from shared.caregivers import repository
from shared.db import Cursor
from shared.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError
from shared.unit_of_work import UnitOfWork

NO_PROFILE_YET = (
    "You have no caregiver profile yet: create your caregiver profile first "
    "(PUT /api/caregivers/me)."
)


def put_profile(uow: UnitOfWork, body: CaregiverProfileIn) -> CaregiverProfile:
    """Create or replace the caller's profile; certifications and specialties are replaced."""
    require_role(uow.principal, Role.CAREGIVER)
    cur = uow.cursor
    caregiver_id = repository.upsert_profile(
        cur,
        uow.principal.user_id,
        experience_years=body.experience_years,
        service_region=body.service_region,
        has_vehicle=body.has_vehicle,
        hourly_rate=body.hourly_rate,
        bio=body.bio,
    )
    repository.replace_certifications(cur, caregiver_id, [str(c) for c in body.certifications])
    repository.replace_specialties(cur, caregiver_id, [str(s) for s in body.specialties])
    return _profile(cur, caregiver_id)


def get_profile(uow: UnitOfWork) -> CaregiverProfile:
    """The caller's whole profile; 404 until it has been created."""
    require_role(uow.principal, Role.CAREGIVER)
    cur = uow.cursor
    caregiver_id = repository.caregiver_id_for_user(cur, uow.principal.user_id)
    if caregiver_id is None:
        raise NotFoundError(NO_PROFILE_YET)
    return _profile(cur, caregiver_id)


def get_card(uow: UnitOfWork, caregiver_id: int) -> CaregiverCard:
    """The public card of a caregiver, for any signed-in user; 404 for unknown or closed ones."""
    card = repository.caregiver_card(uow.cursor, caregiver_id, only_active=True)
    if card is None:
        raise NotFoundError(f"No caregiver has caregiver_id {caregiver_id}.")
    return CaregiverCard.model_validate(card)


def put_availability(uow: UnitOfWork, body: AvailabilityIn) -> Availability:
    """Replace the caller's weekly availability; 422 naming each slot that overlaps another."""
    require_role(uow.principal, Role.CAREGIVER)
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
    cur = uow.cursor
    caregiver_id = _own_caregiver_id_locked(uow)
    repository.replace_availability(
        cur, caregiver_id, [(str(s.day), s.start, s.end) for s in body.slots]
    )
    return Availability.model_validate({"slots": repository.list_availability(cur, caregiver_id)})


def put_personality(uow: UnitOfWork, body: CaregiverPersonalityIn) -> CaregiverPersonality:
    """Set the caller's four personality axes (entered by hand: source `manual`)."""
    require_role(uow.principal, Role.CAREGIVER)
    caregiver_id = _own_caregiver_id_locked(uow)
    row = repository.upsert_personality(
        uow.cursor, caregiver_id, body.model_dump(), source="manual"
    )
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


def _own_caregiver_id_locked(uow: UnitOfWork) -> int:
    """The caller's caregiver_id, its row locked for this transaction; 409 without a profile."""
    caregiver_id = repository.caregiver_id_for_user(
        uow.cursor, uow.principal.user_id, for_update=True
    )
    if caregiver_id is None:
        raise ConflictError(NO_PROFILE_YET)
    return caregiver_id


def _profile(cur: Cursor, caregiver_id: int) -> CaregiverProfile:
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
