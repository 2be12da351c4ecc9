"""Timesheets per caregiver and Korean month (shared.benefits.timesheets): the caregiver's own,
and every caregiver's for operators; JSON, or CSV for payroll (`?format=csv`)."""

from __future__ import annotations

from models.timesheets import (
    AdminTimesheetQuery,
    CsvText,
    Timesheet,
    TimesheetPage,
    TimesheetQuery,
)
from models.vocabularies import Role
from shared.benefits import timesheets as service
from shared.http import Api, ApiRequest, ApiResponse

api = Api(tag="timesheets")
bp = api.blueprint


def _answer(body: Timesheet | TimesheetPage | CsvText, filename: str) -> ApiResponse:
    if isinstance(body, CsvText):
        return ApiResponse(
            body=body,
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return ApiResponse(body=body)


@api.route(
    "GET",
    "api/caregivers/me/timesheets/{month}",
    name="timesheets_mine",
    query=TimesheetQuery,
    response=Timesheet,
    roles=(Role.CAREGIVER,),
    errors=(404, 422),
)
def my_timesheet(request: ApiRequest) -> ApiResponse:
    """The calling caregiver's timesheet of a month (YYYY-MM); `?format=csv` for payroll."""
    month = request.path_params["month"]
    body = service.caregiver_timesheet(request.uow, month, request.query)
    return _answer(body, service.csv_filename(month))


@api.route(
    "GET",
    "api/admin/timesheets/{month}",
    name="timesheets_admin",
    query=AdminTimesheetQuery,
    response=TimesheetPage,
    roles=(Role.ADMIN,),
    errors=(404, 422),
)
def admin_timesheets(request: ApiRequest) -> ApiResponse:
    """Operators: every caregiver's timesheet of a month, or one's (`caregiver_id`); CSV too."""
    month, query = request.path_params["month"], request.query
    body = service.admin_timesheets(request.uow, month, query)
    return _answer(body, service.csv_filename(month, query.caregiver_id))
