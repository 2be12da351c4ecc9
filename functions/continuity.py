"""Continuity of care (shared.continuity): how much of a patient's care came from the same
caregivers."""

from __future__ import annotations

from models.care import ContinuityQuery, PatientContinuity
from shared import continuity
from shared.http import Api, ApiRequest

api = Api(tag="care")
bp = api.blueprint


@api.route(
    "GET",
    "api/patients/{patient_id:long}/continuity",
    name="care_patient_continuity",
    query=ContinuityQuery,
    response=PatientContinuity,
    errors=(403, 404),
)
def patient_continuity(request: ApiRequest) -> PatientContinuity:
    """The Bice-Boxerman continuity of care index of the patient's completed visits from `from`
    to `to` (default: the 90 days up to today), with the visits, caregivers and the most
    frequent caregiver's share."""
    return continuity.patient_continuity(
        request.uow, request.path_params["patient_id"], request.query
    )
