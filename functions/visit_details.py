"""What happens within a visit: its task checklist, its medication administrations (MAR) and
corrections of its times (shared.visits.checklist, .medications, .corrections)."""

from __future__ import annotations

from models.common import Page
from models.visit_details import (
    AdministrationRecord,
    AdministrationsQuery,
    Correction,
    CorrectionCreate,
    CorrectionDecision,
    CorrectionsQuery,
    MedicationAdministration,
    TaskRecord,
    VisitMedication,
    VisitMedications,
    VisitTask,
    VisitTasks,
)
from models.vocabularies import Role
from shared.http import Api, ApiRequest, ApiResponse
from shared.http.route_spec import feeds
from shared.idempotency import respond_once
from shared.visits import checklist, corrections, medications

api = Api(tag="visits")
bp = api.blueprint

PATIENT = "api/patients/{patient_id:long}"
VISIT = "api/visits/{visit_id:long}"
CAREGIVER_ONLY = (Role.CAREGIVER,)
DECIDERS = (Role.GUARDIAN, Role.ADMIN)


@api.route("GET", VISIT + "/tasks", name="visits_tasks", response=VisitTasks, errors=(403, 404))
def list_tasks(request: ApiRequest) -> VisitTasks:
    """The visit's checklist: its schedule's caregiver tasks with this visit's outcomes."""
    return checklist.list_tasks(request.uow, request.path_params["visit_id"])


@api.route(
    "PUT",
    VISIT + "/tasks/{care_log_id:long}",
    name="visits_record_task",
    roles=CAREGIVER_ONLY,
    body=TaskRecord,
    response=VisitTask,
    errors=(404, 409),
)
def record_task(request: ApiRequest) -> ApiResponse:
    """Mark a task done (vitals for a vital check) or not done with a reason; Idempotency-Key."""
    params = request.path_params
    return respond_once(
        request,
        lambda: checklist.record_task(
            request.uow, params["visit_id"], params["care_log_id"], request.body
        ),
    )


@api.route(
    "GET",
    VISIT + "/medications",
    name="visits_medications",
    response=VisitMedications,
    errors=(403, 404),
)
def list_medications(request: ApiRequest) -> VisitMedications:
    """Each of the patient's medications with its outcome at this visit (or none yet)."""
    return medications.list_for_visit(request.uow, request.path_params["visit_id"])


@api.route(
    "PUT",
    VISIT + "/medications/{medication_id:long}",
    name="visits_record_medication",
    roles=CAREGIVER_ONLY,
    body=AdministrationRecord,
    response=VisitMedication,
    errors=(404, 409),
)
def record_medication(request: ApiRequest) -> ApiResponse:
    """Given, refused, missed or not applicable, with the time it was given; Idempotency-Key."""
    params = request.path_params
    return respond_once(
        request,
        lambda: medications.record(
            request.uow, params["visit_id"], params["medication_id"], request.body
        ),
    )


@api.route(
    "GET",
    PATIENT + "/medication-administrations",
    name="visits_patient_medication_administrations",
    query=AdministrationsQuery,
    response=Page[MedicationAdministration],
    errors=(403, 404),
)
def patient_administrations(request: ApiRequest) -> Page[MedicationAdministration]:
    """The patient's medication administrations over a period (default: this month)."""
    return medications.patient_administrations(
        request.uow, request.path_params["patient_id"], request.query
    )


@api.route(
    "POST",
    VISIT + "/corrections",
    name="visits_propose_correction",
    roles=CAREGIVER_ONLY,
    body=CorrectionCreate,
    response=Correction,
    status=201,
    errors=(404, 409),
    links=feeds("correction_id", "visits_approve_correction", "visits_reject_correction"),
)
def propose_correction(request: ApiRequest) -> ApiResponse:
    """Propose corrected times for a locked, missed or unfinished visit; Idempotency-Key."""
    visit_id = request.path_params["visit_id"]
    return respond_once(
        request, lambda: corrections.propose(request.uow, visit_id, request.body), status=201
    )


@api.route(
    "GET",
    PATIENT + "/visit-corrections",
    name="visits_patient_corrections",
    query=CorrectionsQuery,
    response=Page[Correction],
    errors=(403, 404),
)
def patient_corrections(request: ApiRequest) -> Page[Correction]:
    """The patient's visit corrections, newest first (`?status=pending` awaits a decision)."""
    return corrections.list_for_patient(
        request.uow, request.path_params["patient_id"], request.query
    )


@api.route(
    "POST",
    "api/visit-corrections/{correction_id:long}/approve",
    name="visits_approve_correction",
    roles=DECIDERS,
    body=CorrectionDecision,
    response=Correction,
    errors=(404, 409),
)
def approve_correction(request: ApiRequest) -> Correction:
    """Apply the proposed times to the visit (owning guardian or operator)."""
    return corrections.approve(request.uow, request.path_params["correction_id"], request.body)


@api.route(
    "POST",
    "api/visit-corrections/{correction_id:long}/reject",
    name="visits_reject_correction",
    roles=DECIDERS,
    body=CorrectionDecision,
    response=Correction,
    errors=(404, 409),
)
def reject_correction(request: ApiRequest) -> Correction:
    """Keep the visit as recorded (owning guardian or operator)."""
    return corrections.reject(request.uow, request.path_params["correction_id"], request.body)
