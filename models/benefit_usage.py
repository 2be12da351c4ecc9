"""The month's use of the long-term-care benefit against the grade's cap: the guardian
dashboard's panel and the warnings of a new schedule or a confirmed care plan that would pass the
cap. API.md "Dashboard", "Schedules, care logs and care reports", "Care plans and meal plans"."""

from __future__ import annotations

from pydantic import Field

from models.care import Schedule
from models.care_plans import CarePlan
from models.common import ResponseModel
from models.vocabularies import LabeledEnum


class UsageLevel(LabeledEnum):
    WITHIN = "within", "여유"
    NEAR = "near", "한도 80% 이상"
    REACHED = "reached", "한도 도달"
    OVER = "over", "한도 초과"


class BenefitUsage(ResponseModel):
    """This Korean month's 급여비용 of verified visits against the grade's 월 한도액."""

    month: str = Field(description="YYYY-MM (Korea).")
    used_won: int = Field(description="급여비용 of the month's covered, verified visits.")
    cap_won: int = Field(description="월 한도액 of the grade (0: no grade, private pay).")
    percent: int | None = Field(description="used / cap in whole percent (floor); null: no cap.")
    level: UsageLevel | None = Field(description="null without a cap.")
    level_label: str | None


class CapWarning(ResponseModel):
    """The month's estimated 급여비용 passes the cap: the part above it is paid in full by the
    family (본인 전액 부담)."""

    code: str = Field("monthly_cap_exceeded", description="Always `monthly_cap_exceeded`.")
    month: str = Field(description="YYYY-MM (Korea).")
    estimated_won: int = Field(
        description="Verified visits, visits planned and days scheduled without visits "
        "(each estimated as one daytime visit of BENEFIT_ESTIMATE_VISIT_MINUTES), priced."
    )
    cap_won: int
    over_by_won: int = Field(description="How much the estimate passes the cap.")
    message: str = Field(description="The warning in Korean, for the guardian.")


class ScheduleCreated(Schedule):
    """A new schedule, with a warning per month it would take past the cap (none: `[]`)."""

    warnings: list[CapWarning] = Field(default_factory=list)


class CarePlanConfirmed(CarePlan):
    """A confirmed plan, with a warning per month its days would take past the cap."""

    warnings: list[CapWarning] = Field(default_factory=list)
