"""Caregivers: own profile, public card, availability, personality."""

from __future__ import annotations

from models.caregivers import (
    Availability,
    AvailabilityIn,
    CaregiverCard,
    CaregiverPersonality,
    CaregiverPersonalityIn,
    CaregiverProfile,
    CaregiverProfileIn,
)
from models.vocabularies import Role
from shared.caregivers import service
from shared.http import Api, ApiRequest

api = Api(tag="caregivers")
bp = api.blueprint


@api.route(
    "PUT",
    "api/caregivers/me",
    name="caregivers_put_me",
    roles=(Role.CAREGIVER,),
    body=CaregiverProfileIn,
    response=CaregiverProfile,
    errors=(403, 422),
)
def put_me(request: ApiRequest) -> CaregiverProfile:
    """Create or replace the signed-in caregiver's profile (caregiver role only)."""
    return service.put_profile(request.uow, request.body)


@api.route(
    "GET",
    "api/caregivers/me",
    name="caregivers_get_me",
    roles=(Role.CAREGIVER,),
    response=CaregiverProfile,
    errors=(403, 404),
)
def get_me(request: ApiRequest) -> CaregiverProfile:
    """The signed-in caregiver's whole profile, with availability and personality."""
    return service.get_profile(request.uow)


@api.route(
    "GET",
    "api/caregivers/{caregiver_id:long}",
    name="caregivers_get_card",
    response=CaregiverCard,
    errors=(404,),
)
def get_card(request: ApiRequest) -> CaregiverCard:
    """A caregiver's public card, for any signed-in user (no contacts, birth date or gender)."""
    return service.get_card(request.uow, request.path_params["caregiver_id"])


@api.route(
    "PUT",
    "api/caregivers/me/availability",
    name="caregivers_put_availability",
    roles=(Role.CAREGIVER,),
    body=AvailabilityIn,
    response=Availability,
    errors=(403, 409, 422),
)
def put_availability(request: ApiRequest) -> Availability:
    """Replace the signed-in caregiver's weekly availability slots."""
    return service.put_availability(request.uow, request.body)


@api.route(
    "PUT",
    "api/caregivers/me/personality",
    name="caregivers_put_personality",
    roles=(Role.CAREGIVER,),
    body=CaregiverPersonalityIn,
    response=CaregiverPersonality,
    errors=(403, 409, 422),
)
def put_personality(request: ApiRequest) -> CaregiverPersonality:
    """Set the signed-in caregiver's personality axes (0..100 each)."""
    return service.put_personality(request.uow, request.body)
