"""The signed-in user's dashboard (API.md "Reviews and dashboard").

"Today" is the date in Korea (Asia/Seoul). Today's counts cover confirmed care only: schedules
in `scheduled` or `completed` status (AI drafts not yet confirmed and cancelled days are left
out), counting their care logs.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from models.accounts import User
from models.benefit_usage import BenefitUsage
from models.common import ResponseModel
from models.vocabularies import CareLevel, Condition, Gender, MatchingStatus, MobilityStatus


class TodayCounts(ResponseModel):
    total: int = Field(description="Today's care logs (tasks) on confirmed schedules.")
    completed: int = Field(description="How many of them are completed.")


class CaregiverRef(ResponseModel):
    caregiver_id: int
    name: str


class CurrentMatching(ResponseModel):
    """The patient's matching in progress: `active`, or `selected` while the caregiver decides."""

    matching_id: int
    caregiver: CaregiverRef
    status: MatchingStatus
    contract_start_date: date | None
    contract_end_date: date | None


class GuardianPatientPanel(ResponseModel):
    patient_id: int
    name: str
    age: int
    care_level: CareLevel
    active_matching: CurrentMatching | None = Field(
        description="The active matching (or, if none, the selected one awaiting acceptance)."
    )
    today: TodayCounts
    benefit_usage: BenefitUsage | None = Field(
        None,
        description="This month's long-term-care benefit use against the grade's cap (null "
        "when it cannot be priced).",
    )


class GuardianDashboard(ResponseModel):
    role: Literal["guardian"] = "guardian"
    user: User
    patients: list[GuardianPatientPanel]


class AssignedPatient(ResponseModel):
    """What a caregiver with an active matching sees of the patient on the dashboard."""

    name: str
    age: int
    gender: Gender
    care_level: CareLevel
    mobility_status: MobilityStatus
    region_code: str
    conditions: list[Condition]


class ActiveAssignment(ResponseModel):
    matching_id: int
    patient_id: int
    patient: AssignedPatient
    contract_start_date: date | None
    contract_end_date: date | None


class TodaySchedule(ResponseModel):
    schedule_id: int
    patient_id: int
    schedule_date: date
    status: Literal["scheduled", "completed"]
    total: int = Field(description="The schedule's care logs.")
    completed: int = Field(description="How many of them are completed.")


class CaregiverDashboard(ResponseModel):
    role: Literal["caregiver"] = "caregiver"
    user: User
    active_assignments: list[ActiveAssignment]
    today_schedules: list[TodaySchedule] = Field(
        description="Today's confirmed schedules of the patients with an active matching."
    )
    pending_offers: int = Field(description="Selected matchings waiting for this caregiver.")
    avg_rating: float | None = Field(
        description="The caregiver's average guardian rating (null without a caregiver profile)."
    )
    total_reviews: int


#: The response of `GET /api/users/me/dashboard`: which shape is told by `role`.
Dashboard = Annotated[GuardianDashboard | CaregiverDashboard, Field(discriminator="role")]
