"""Schedules, care logs and care reports."""

from __future__ import annotations

from models.benefit_usage import ScheduleCreated
from models.care import (
    CareLog,
    CareLogCreate,
    CareLogUpdate,
    CareReport,
    CareReportCreate,
    CareReportQuery,
    Schedule,
    ScheduleCreate,
    ScheduleDay,
    SchedulesQuery,
    ScheduleStatusUpdate,
)
from models.common import Page
from models.vocabularies import Role
from shared.benefits import usage_alerts
from shared.care import service
from shared.care.etag import if_none_match_hits, strong_etag
from shared.http import Api, ApiRequest, ApiResponse
from shared.http.route_spec import feeds
from shared.idempotency import respond_once

api = Api(tag="care")
bp = api.blueprint

#: Roles that may ever call a route (others get 403 before their input is read); the service
#: still authorises each patient (shared.auth.authorization).
GUARDIAN_ONLY = (Role.GUARDIAN,)
CARE_TEAM = (Role.GUARDIAN, Role.CAREGIVER)
#: A user's own day: cacheable by the browser only, and only for the same token.
DAY_CACHE_HEADERS = {"Cache-Control": "private, max-age=300", "Vary": "Authorization, Origin"}


@api.route(
    "GET",
    "api/schedules/{date}",
    name="care_schedules_on_date",
    roles=CARE_TEAM,
    response=ScheduleDay,
    errors=(403, 422),
)
def schedules_on_date(request: ApiRequest) -> ApiResponse:
    """The caller's schedules on a date (YYYY-MM-DD) with care logs; ETag, If-None-Match -> 304."""
    day = service.parse_path_date(request.path_params["date"])
    body = service.schedules_on(request.uow, day)
    etag = strong_etag(body)
    headers = {**DAY_CACHE_HEADERS, "ETag": etag}
    if if_none_match_hits(request.header("if-none-match"), etag):
        return ApiResponse(status=304, headers=headers)
    return ApiResponse(body=body, headers=headers)


@api.route(
    "GET",
    "api/patients/{patient_id:long}/schedules",
    name="care_patient_schedules",
    query=SchedulesQuery,
    response=Page[Schedule],
    errors=(403, 404),
)
def patient_schedules(request: ApiRequest) -> Page[Schedule]:
    """A patient's schedules from `from` to `to` (default: 7 days from today), with care logs."""
    return service.patient_schedules(request.uow, request.path_params["patient_id"], request.query)


@api.route(
    "POST",
    "api/patients/{patient_id:long}/schedules",
    name="care_create_schedule",
    roles=GUARDIAN_ONLY,
    body=ScheduleCreate,
    response=ScheduleCreated,
    status=201,
    errors=(403, 404, 409),
    links={
        **feeds("schedule_id", "care_update_schedule", "care_add_care_log"),
        **feeds("schedule_date", "care_schedules_on_date", parameter="date"),
    },
)
def create_schedule(request: ApiRequest) -> ScheduleCreated:
    """Create a schedule for a day (owning guardian); `warnings` if it would pass the cap."""
    return usage_alerts.create_schedule(
        request.uow, request.path_params["patient_id"], request.body
    )


@api.route(
    "PATCH",
    "api/schedules/{schedule_id:long}",
    name="care_update_schedule",
    roles=GUARDIAN_ONLY,
    body=ScheduleStatusUpdate,
    response=Schedule,
    errors=(403, 404, 409),
)
def update_schedule(request: ApiRequest) -> Schedule:
    """Set a schedule's status: scheduled, completed or cancelled (owning guardian)."""
    return service.update_schedule_status(
        request.uow, request.path_params["schedule_id"], request.body
    )


@api.route(
    "POST",
    "api/schedules/{schedule_id:long}/care-logs",
    name="care_add_care_log",
    roles=CARE_TEAM,
    body=CareLogCreate,
    response=CareLog,
    status=201,
    errors=(403, 404, 409),
    links=feeds("care_log_id", "care_update_care_log"),
)
def add_care_log(request: ApiRequest) -> ApiResponse:
    """Add a task to a schedule (owning guardian or the active caregiver); Idempotency-Key."""
    schedule_id = request.path_params["schedule_id"]
    return respond_once(
        request, lambda: service.add_care_log(request.uow, schedule_id, request.body), status=201
    )


@api.route(
    "PATCH",
    "api/care-logs/{care_log_id:long}",
    name="care_update_care_log",
    roles=CARE_TEAM,
    body=CareLogUpdate,
    response=CareLog,
    errors=(403, 404, 409),
)
def update_care_log(request: ApiRequest) -> ApiResponse:
    """Complete a task, with a note and vitals (active caregiver; guardian for family tasks);
    Idempotency-Key."""
    care_log_id = request.path_params["care_log_id"]
    return respond_once(
        request, lambda: service.update_care_log(request.uow, care_log_id, request.body)
    )


@api.route(
    "POST",
    "api/patients/{patient_id:long}/care-reports",
    name="care_create_report",
    roles=GUARDIAN_ONLY,
    body=CareReportCreate,
    response=CareReport,
    status=201,
    errors=(403, 404, 429),
)
def create_care_report(request: ApiRequest) -> CareReport:
    """A weekly (<= 7 days) or monthly (<= 31 days) care report of completion rates and vitals."""
    return service.create_care_report(request.uow, request.path_params["patient_id"], request.body)


@api.route(
    "GET",
    "api/patients/{patient_id:long}/care-reports",
    name="care_list_reports",
    query=CareReportQuery,
    response=Page[CareReport],
    errors=(403, 404),
)
def list_care_reports(request: ApiRequest) -> Page[CareReport]:
    """The patient's care reports, newest first."""
    return service.list_care_reports(request.uow, request.path_params["patient_id"], request.query)
