"""Guardians and patients: profiles, conditions, medications, diet, personality."""

from __future__ import annotations

from models.common import Page
from models.patients import (
    ConditionSet,
    ConditionsIn,
    Diet,
    DietIn,
    Guardian,
    GuardianIn,
    Medication,
    MedicationIn,
    MedicationListQuery,
    Patient,
    PatientIn,
    PatientListQuery,
    PatientPatch,
    Personality,
    PersonalityIn,
)
from models.vocabularies import Role
from shared.http import Api, ApiRequest
from shared.http.route_spec import feeds
from shared.patients import service

api = Api(tag="patients")
bp = api.blueprint

PATIENT = "api/patients/{patient_id:long}"
#: Routes only a guardian may ever call: others get 403 before their input is read (the
#: services check again: the authorization rules give the same answer).
GUARDIAN_ONLY = (Role.GUARDIAN,)
#: What a created patient's id feeds (OpenAPI links, followed by the stateful fuzzing).
PATIENT_LINKS = feeds(
    "patient_id",
    "patients_get",
    "patients_update",
    "patients_delete",
    "patients_put_conditions",
    "patients_list_medications",
    "patients_add_medication",
    "patients_put_diet",
    "patients_put_personality",
    "care_patient_schedules",
    "care_create_schedule",
    "care_list_reports",
    "care_create_report",
    "care_plans_list",
    "care_plans_create",
    "matching_create_request",
    "matching_list_results",
    "meal_plans_create",
    "visits_plan",
    "visits_list",
    "visits_add_home_tag",
    "visits_list_home_tags",
    "visits_set_home_location",
    "visits_patient_corrections",
    "visits_patient_medication_administrations",
    "incidents_report",
    "incidents_list",
    "care_patient_continuity",
    "benefits_get_profile",
    "benefits_put_profile",
)


@api.route(
    "PUT",
    "api/guardians/me",
    name="patients_put_guardian",
    roles=GUARDIAN_ONLY,
    body=GuardianIn,
    response=Guardian,
    errors=(403, 422),
)
def put_guardian(request: ApiRequest) -> Guardian:
    """Create or replace the signed-in guardian's profile (guardian accounts only)."""
    return service.put_my_guardian(request.uow, request.body)


@api.route(
    "GET",
    "api/guardians/me",
    name="patients_get_guardian",
    roles=GUARDIAN_ONLY,
    response=Guardian,
    errors=(403, 404),
)
def get_guardian(request: ApiRequest) -> Guardian:
    """The signed-in guardian's profile; 404 until it is created."""
    return service.get_my_guardian(request.uow)


@api.route(
    "POST",
    "api/patients",
    name="patients_create",
    roles=GUARDIAN_ONLY,
    body=PatientIn,
    response=Patient,
    status=201,
    errors=(403, 409, 422),
    links=PATIENT_LINKS,
)
def create_patient(request: ApiRequest) -> Patient:
    """Add a patient to the signed-in guardian (409 without a guardian profile)."""
    return service.create_patient(request.uow, request.body)


@api.route(
    "GET",
    "api/patients",
    name="patients_list",
    query=PatientListQuery,
    response=Page[Patient],
)
def list_patients(request: ApiRequest) -> Page[Patient]:
    """The caller's patients: own (guardian), actively assigned (caregiver), all (admin)."""
    return service.list_patients(request.uow, request.query)


@api.route("GET", PATIENT, name="patients_get", response=Patient, errors=(403, 404))
def get_patient(request: ApiRequest) -> Patient:
    """One patient with conditions, medications, diet and personality."""
    return service.get_patient(request.uow, request.path_params["patient_id"])


@api.route(
    "PATCH",
    PATIENT,
    name="patients_update",
    roles=GUARDIAN_ONLY,
    body=PatientPatch,
    response=Patient,
    errors=(403, 404, 422),
)
def update_patient(request: ApiRequest) -> Patient:
    """Change any subset of the patient's fields."""
    return service.update_patient(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "DELETE", PATIENT, name="patients_delete", roles=GUARDIAN_ONLY, status=204, errors=(403, 404)
)
def delete_patient(request: ApiRequest) -> None:
    """Delete the patient and everything recorded about it."""
    service.delete_patient(request.uow, request.path_params["patient_id"])


@api.route(
    "PUT",
    PATIENT + "/conditions",
    name="patients_put_conditions",
    roles=GUARDIAN_ONLY,
    body=ConditionsIn,
    response=ConditionSet,
    errors=(403, 404, 422),
)
def put_conditions(request: ApiRequest) -> ConditionSet:
    """Replace the patient's conditions (and optionally set mobility_status)."""
    return service.put_conditions(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "POST",
    PATIENT + "/medications",
    name="patients_add_medication",
    roles=GUARDIAN_ONLY,
    body=MedicationIn,
    response=Medication,
    status=201,
    errors=(403, 404, 409, 422),
    links={
        "patients_delete_medication": {
            "patient_id": "$response.body#/patient_id",
            "med_id": "$response.body#/medication_id",
        }
    },
)
def add_medication(request: ApiRequest) -> Medication:
    """Record a medication the patient takes."""
    return service.add_medication(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "GET",
    PATIENT + "/medications",
    name="patients_list_medications",
    query=MedicationListQuery,
    response=Page[Medication],
    errors=(403, 404),
)
def list_medications(request: ApiRequest) -> Page[Medication]:
    """The patient's medications, oldest first."""
    return service.list_medications(request.uow, request.path_params["patient_id"], request.query)


@api.route(
    "DELETE",
    PATIENT + "/medications/{med_id:long}",
    name="patients_delete_medication",
    roles=GUARDIAN_ONLY,
    status=204,
    errors=(403, 404),
)
def delete_medication(request: ApiRequest) -> None:
    """Remove one of the patient's medications."""
    service.delete_medication(
        request.uow,
        request.path_params["patient_id"],
        request.path_params["med_id"],
    )


@api.route(
    "PUT",
    PATIENT + "/diet",
    name="patients_put_diet",
    roles=GUARDIAN_ONLY,
    body=DietIn,
    response=Diet,
    errors=(403, 404, 422),
)
def put_diet(request: ApiRequest) -> Diet:
    """Set the patient's diet type and allergens."""
    return service.put_diet(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "PUT",
    PATIENT + "/personality",
    name="patients_put_personality",
    roles=GUARDIAN_ONLY,
    body=PersonalityIn,
    response=Personality,
    errors=(403, 404, 422),
)
def put_personality(request: ApiRequest) -> Personality:
    """Set the patient's four personality axes (0..100 each)."""
    return service.put_personality(request.uow, request.path_params["patient_id"], request.body)
