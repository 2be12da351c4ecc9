"""Care plans (API.md "Care plans, meals, schedules and logs"): AI or template drafts of one to
seven days, each day a draft schedule with one care log per activity, confirmed by the guardian.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from models.care import Assignee, IsoDate, ScheduleStatus
from models.common import ApiModel, PageQuery, ResponseModel
from models.dates import korea_today
from models.vocabularies import CareLogCategory

MAX_PLAN_DAYS = 7


class CarePlanCreate(ApiModel):
    start_date: IsoDate = Field(description="First day of the plan (today or later, Korea).")
    days: int = Field(ge=1, le=MAX_PLAN_DAYS, description="How many days, 1..7.")

    @field_validator("start_date")
    @classmethod
    def _not_in_the_past(cls, value: dt.date) -> dt.date:
        if value < korea_today():
            raise ValueError("must be today or later")
        return value


class CarePlanQuery(PageQuery):
    pass


class CarePlanActivity(ResponseModel):
    care_log_id: int
    time: str | None = Field(description="HH:MM, Korea local time.")
    title: str
    category: CareLogCategory
    assignee: Assignee
    note: str | None = None
    is_completed: bool


class CarePlanDay(ResponseModel):
    date: dt.date
    schedule_id: int
    status: ScheduleStatus = Field(description="draft until the plan is confirmed.")
    activities: list[CarePlanActivity]


class CarePlan(ResponseModel):
    care_plan_id: int
    patient_id: int
    source: Literal["ai", "template"]
    status: Literal["draft", "confirmed"]
    disclaimer: str
    start_date: dt.date
    days: list[CarePlanDay]
    created_at: datetime
    updated_at: datetime
