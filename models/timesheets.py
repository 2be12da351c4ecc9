"""Timesheets: per caregiver and Korean month, the visits delivered, their minutes and the
minutes that fall in each surcharge window, for payroll. API.md "Timesheets"."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from models.common import BIGINT_MAX, Page, PageQuery, ResponseModel


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class TimesheetQuery(BaseModel):
    """`?format=json|csv` of a caregiver's own timesheet."""

    format: ExportFormat = Field(
        default=ExportFormat.JSON,
        description="`json`, or `csv` for payroll (UTF-8 with BOM, a Korean header row).",
    )


class AdminTimesheetQuery(PageQuery):
    """`?caregiver_id=&format=&limit=&offset=` of the operators' timesheets (paged by caregiver;
    the CSV holds every caregiver of the month, or the one named)."""

    caregiver_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="One caregiver.")
    format: ExportFormat = Field(
        default=ExportFormat.JSON,
        description="`json`, or `csv` for payroll (UTF-8 with BOM, a Korean header row).",
    )


class SurchargeMinutes(ResponseModel):
    """Minutes inside each surcharge window (Korean time). The windows are counted each on its
    own: a minute of a Sunday night counts as night and as holiday (pricing applies only the
    higher surcharge; payroll sees each)."""

    evening: int = Field(description="18:00-22:00 (야간).")
    night: int = Field(description="22:00-06:00 (심야).")
    holiday: int = Field(description="Sundays and public holidays (휴일).")


class TimesheetVisit(ResponseModel):
    visit_id: int
    patient_id: int
    patient_name: str
    date: dt.date = Field(description="The day of the check-in in Korea.")
    start: dt.datetime = Field(description="Check-in (server time), in Korean time.")
    end: dt.datetime = Field(description="Check-out (server time), in Korean time.")
    minutes: int
    surcharge_minutes: SurchargeMinutes
    needs_review: bool = Field(description="Recorded by hand and not yet reviewed.")


class TimesheetTotals(ResponseModel):
    visits: int
    minutes: int
    surcharge_minutes: SurchargeMinutes


class Timesheet(ResponseModel):
    caregiver_id: int
    caregiver_name: str
    month: str = Field(description="YYYY-MM (Korean calendar month).")
    period_start: dt.date
    period_end: dt.date
    totals: TimesheetTotals
    visits: list[TimesheetVisit]


class TimesheetPage(Page[Timesheet]):
    """The month's timesheets, one per caregiver with a delivered visit, by caregiver id."""

    month: str


class CsvText(BaseModel):
    """A CSV file sent as it is: the pipeline writes a model body with `model_dump_json()`."""

    text: str

    def model_dump_json(self, **_kwargs: Any) -> str:
        return self.text
