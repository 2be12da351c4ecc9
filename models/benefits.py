"""Long-term-care benefits (노인장기요양보험): the patient's long-term-care profile and the monthly
statement (급여비용 명세). API.md "Long-term-care benefits"."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from models.common import ApiModel, ResponseModel
from models.vocabularies import CareLevel, LabeledEnum


class CopayClass(LabeledEnum):
    """Home-care co-payment (재가급여 본인부담률), stored as a whole percentage."""

    STANDARD = "15", "일반 15%"
    REDUCED_40 = "9", "감경 9% (40% 경감)"
    REDUCED_60 = "6", "감경 6% (60% 경감)"
    EXEMPT = "0", "면제 0% (기초생활수급자)"


class SurchargeKind(LabeledEnum):
    EVENING = "evening", "야간 가산 (18:00~22:00)"
    NIGHT = "night", "심야 가산 (22:00~06:00)"
    HOLIDAY = "holiday", "휴일 가산 (일요일·공휴일)"


class Coverage(LabeledEnum):
    COVERED = "covered", "급여"
    PRIVATE_PAY = "private_pay", "비급여 (전액 본인부담)"
    NOT_BILLABLE = "not_billable", "산정 제외"


class PrivatePayReason(LabeledEnum):
    NO_GRADE = "no_grade", "등급외: 장기요양 급여 대상 아님 (전액 본인부담)"
    NOT_ENTITLED = "not_entitled", "이 등급은 방문요양 급여 대상 아님 (전액 본인부담)"
    OUTSIDE_RECOGNITION = "outside_recognition", "장기요양 인정 유효기간 밖 (전액 본인부담)"
    BELOW_MINIMUM = "below_minimum", "최소 급여제공시간 미만 (산정 제외)"
    NO_TARIFF = "no_tariff", "그날 적용할 수가 없음 (산정 제외)"


ProfileSource = Literal["profile", "care_level"]
RecognitionNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^L[0-9]{10}$")
]


class LtcProfileUpdate(ApiModel):
    """A new long-term-care profile from `effective_from` on (the earlier ones are kept)."""

    grade: CareLevel = Field(description="장기요양등급; `none` is private pay (등급외).")
    recognition_number: RecognitionNumber | None = Field(
        None, description="장기요양인정번호, `L` and 10 digits; required unless grade is `none`."
    )
    recognition_valid_from: dt.date | None = Field(None, description="인정 유효기간 시작일.")
    recognition_valid_to: dt.date | None = Field(None, description="인정 유효기간 종료일.")
    copay_percent: Literal[15, 9, 6, 0] = Field(
        15, description="재가급여 본인부담률 in whole percent: 15, 9, 6 or 0."
    )
    effective_from: dt.date = Field(description="The first day (Korea) this profile applies.")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class LtcProfile(ResponseModel):
    profile_id: int | None = Field(description="None when derived from the patient's care_level.")
    patient_id: int
    grade: str
    grade_label: str
    recognition_number: str | None
    recognition_valid_from: dt.date | None
    recognition_valid_to: dt.date | None
    copay_percent: int
    copay_label: str
    effective_from: dt.date | None
    note: str | None = None
    superseded_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    source: ProfileSource = Field(
        description="`profile` (recorded here) or `care_level` (derived from the patient's "
        "care_level with the standard 15 % co-payment, until a profile is recorded)."
    )


class LtcProfileHistory(ResponseModel):
    patient_id: int
    current: LtcProfile = Field(description="The profile in force today (Korea).")
    history: list[LtcProfile] = Field(description="Every recorded profile, newest first.")


class StatementItem(ResponseModel):
    """One verified visit, priced."""

    visit_id: int
    caregiver_id: int
    date: dt.date = Field(description="The visit's day in Korea (by check-in).")
    start: dt.datetime
    end: dt.datetime
    minutes: int
    service: str = "home_visit_care"
    service_label: str = "방문요양"
    band_minutes: int | None = Field(description="The fee band (30, 60, ... 240 minutes and over).")
    base_won: int = Field(description="The band's fee without surcharge.")
    surcharge: str | None
    surcharge_label: str | None
    surcharge_percent: int
    amount_won: int = Field(
        description="base_won with the surcharge, rounded by the notice's rule."
    )
    coverage: str
    coverage_label: str
    reason: str | None = Field(None, description="Why not covered (private pay or not billable).")
    reason_label: str | None = None
    over_cap_won: int = Field(0, description="The part of this visit above the monthly cap.")


class StatementTotals(ResponseModel):
    benefit_total_won: int = Field(description="급여비용 총액: covered visits, before the cap.")
    cap_won: int = Field(description="재가급여 월 한도액 of the grade (0 without a grade).")
    within_cap_won: int = Field(description="급여비용 within the cap.")
    over_cap_won: int = Field(description="한도액 초과분: paid in full by the family.")
    insurer_won: int = Field(description="공단부담금 = within_cap_won - copay_won.")
    copay_won: int = Field(description="본인부담금 = within_cap_won x copay_percent, rounded.")
    private_pay_won: int = Field(description="비급여: visits not covered, paid in full.")
    family_total_won: int = Field(description="가족 부담 합계 = copay + over_cap + private_pay.")
    total_won: int = Field(description="insurer_won + family_total_won.")


class MonthStatement(ResponseModel):
    patient_id: int
    month: str = Field(description="YYYY-MM (Korea).")
    profile: LtcProfile = Field(description="The profile in force on the month's last day.")
    items: list[StatementItem]
    totals: StatementTotals
    visits_counted: int
    visits_pending_review: int = Field(
        description="Visits recorded by hand and not yet reviewed: not counted until reviewed."
    )
    rounding: list[str] = Field(description="The rounding rules applied (the notice's words).")
    sources: list[str] = Field(description="The notices the tariffs come from.")
    unverified_figures: bool = Field(
        description="A tariff used is marked 'to verify against the notice' in the data."
    )


class CapUsage(ResponseModel):
    used: int = Field(description="급여비용 of the month's covered visits (before the cap).")
    cap: int
    ratio: float | None = Field(description="used / cap; None without a cap.")
