"""Incidents of care: reported by the caregiver (or an operator), read by the care team,
followed up by operators (shared.incidents.service)."""

from __future__ import annotations

from models.common import Page
from models.incidents import Incident, IncidentCreate, IncidentsQuery, IncidentUpdate
from models.vocabularies import Role
from shared.http import Api, ApiRequest, ApiResponse
from shared.http.route_spec import feeds
from shared.idempotency import respond_once
from shared.incidents import service

api = Api(tag="incidents")
bp = api.blueprint

INCIDENT = "api/incidents/{incident_id:long}"


@api.route(
    "POST",
    "api/patients/{patient_id:long}/incidents",
    name="incidents_report",
    roles=(Role.CAREGIVER, Role.ADMIN),
    body=IncidentCreate,
    response=Incident,
    status=201,
    errors=(404,),
    links=feeds("incident_id", "incidents_get", "incidents_follow_up"),
)
def report(request: ApiRequest) -> ApiResponse:
    """Report an incident: guardian and operators told at once, any hour; Idempotency-Key."""
    patient_id = request.path_params["patient_id"]
    return respond_once(
        request, lambda: service.report(request.uow, patient_id, request.body), status=201
    )


@api.route(
    "GET",
    "api/patients/{patient_id:long}/incidents",
    name="incidents_list",
    query=IncidentsQuery,
    response=Page[Incident],
    errors=(403, 404),
)
def list_incidents(request: ApiRequest) -> Page[Incident]:
    """The patient's incidents, latest first (`?follow_up_status=`)."""
    return service.list_for_patient(request.uow, request.path_params["patient_id"], request.query)


@api.route("GET", INCIDENT, name="incidents_get", response=Incident, errors=(403, 404))
def get_incident(request: ApiRequest) -> Incident:
    """One incident."""
    return service.get(request.uow, request.path_params["incident_id"])


@api.route(
    "PATCH",
    INCIDENT,
    name="incidents_follow_up",
    roles=(Role.ADMIN,),
    body=IncidentUpdate,
    response=Incident,
    errors=(404,),
)
def follow_up(request: ApiRequest) -> Incident:
    """Set the follow-up status and note (operators)."""
    return service.follow_up(request.uow, request.path_params["incident_id"], request.body)
