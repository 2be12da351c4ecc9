"""The pricing engine of long-term-care benefits (노인장기요양보험): a month's verified visits
priced by the tariffs in force, as a statement (급여비용 명세). Pure functions plus one SQL reader.

Interface (other areas build on these two; both take the caller's unit of work, do NO
authorization and write NO audit event - the caller authorizes and audits):

- `price_month(uow, patient_id, month) -> MonthStatement` (models.benefits): every verified
  visit of the Korean month priced, with the totals (insurer share, co-payment, the part above
  the monthly cap, private pay).
- `month_usage(uow, patient_id, month, planned=()) -> CapUsage(used, cap, ratio)`: the month's
  covered 급여비용 against the grade's cap; `planned` adds (start, end) intervals of visits not
  yet delivered, priced the same way (an estimate for schedules and care plans).

`month` is a `shared.visit_records.builder.Month` (`Month.parse("2026-01")`). A month before
the tariff data begin (no rounding rule in force) raises `shared.benefits.tariffs.
MissingTariffError`; a visit on a day without fees is `not_billable` (`no_tariff`).

The rules (each figure is data with effective dates: shared.benefits.tariffs):
- A verified visit: checked in and out (`completed`; times as corrected by approved
  corrections, which rewrite the visit's times), not waiting for an operator's review (a visit
  recorded by hand counts once reviewed). It belongs to the Korean month of its check-in.
- Minutes: whole minutes from check-in to check-out (seconds dropped). The fee is the longest
  band the minutes reach (30, 60, ... 240 minutes and over) in force on the visit's day; a visit
  shorter than the shortest band is not billable (0 won).
- Surcharge, by the visit's start in Korea: 18:00-22:00 evening +20 %, 22:00-06:00 night
  +30 %, Sundays and public holidays (대체공휴일 included) +30 %; only the highest applies (not
  stacked; on a tie the first of holiday, night, evening).
- Amount of a visit = base x (100 + surcharge %) / 100, rounded by the `visit_amount` rule
  (원 미만 절사).
- Coverage: grade `none` -> private pay (등급외); a grade not entitled to the service
  (인지지원등급 and 방문요양) -> private pay; a visit outside the recognition's validity ->
  private pay. Private pay is charged at the same tariff price.
- The month: benefit total = covered amounts; within cap = min(total, cap of the grade in force
  on the month's first day); over cap = the rest, paid in full by the family (attributed to the
  visits in time order); co-payment = within cap x copay % rounded by the `copay` rule (10원
  미만 절사) on the month's total; insurer share = within cap - co-payment (so the parts add up
  to the total exactly); family total = co-payment + over cap + private pay.
- The profile (grade, co-payment class, validity) is the one in force on the month's last day
  (shared.benefits.profiles); without one, the patient's `care_level` with the standard 15 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from models.benefits import (
    CapUsage,
    Coverage,
    LtcProfile,
    MonthStatement,
    PrivatePayReason,
    StatementItem,
    StatementTotals,
    SurchargeKind,
)
from models.dates import KOREA
from shared.benefits.tariffs import Effective, SurchargeRow, TariffBook

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork
    from shared.visit_records.builder import Month

SERVICE = "home_visit_care"
#: On a tie of percentages, the first kind wins (a stable, stated choice).
SURCHARGE_ORDER = ("holiday", "night", "evening")


@dataclass(frozen=True)
class VerifiedVisit:
    visit_id: int
    caregiver_id: int
    check_in_at: datetime
    check_out_at: datetime


@dataclass(frozen=True)
class AppliedSurcharge:
    kind: str
    percent: int


# -- rounding ------------------------------------------------------------------------------------


def round_won(numerator: int, denominator: int, unit: int, mode: str) -> int:
    """numerator / denominator in integer won, to `unit` won: `floor` (절사) or `half_up`.

    Integer arithmetic only (no float ever touches an amount)."""
    if numerator < 0 or denominator <= 0 or unit <= 0:
        raise ValueError("amounts are not negative; denominator and unit are positive")
    step = denominator * unit
    if mode == "floor":
        return (numerator // step) * unit
    if mode == "half_up":
        return ((2 * numerator + step) // (2 * step)) * unit
    raise ValueError(f"unknown rounding mode {mode!r}")


# -- one visit -----------------------------------------------------------------------------------


def minutes_of(visit: VerifiedVisit) -> int:
    return int((visit.check_out_at - visit.check_in_at).total_seconds() // 60)


def surcharge_for(book: TariffBook, start: datetime) -> AppliedSurcharge | None:
    """The one surcharge that applies to a visit starting at `start` (the highest; not stacked)."""
    local = start.astimezone(KOREA)
    day, moment = local.date(), local.time()
    applicable: list[SurchargeRow] = []
    for row in book.surcharges_on(SERVICE, day):
        if row.kind == SurchargeKind.HOLIDAY:
            if book.is_holiday(day):
                applicable.append(row)
        elif row.covers(moment):
            applicable.append(row)
    if not applicable:
        return None
    best = max(applicable, key=lambda r: (r.percent, -SURCHARGE_ORDER.index(r.kind)))
    return AppliedSurcharge(best.kind, best.percent)


def price_visit(book: TariffBook, visit: VerifiedVisit, profile: LtcProfile) -> StatementItem:
    """One visit's band, surcharge, amount and coverage (before the monthly cap)."""
    local_start = visit.check_in_at.astimezone(KOREA)
    day = local_start.date()
    minutes = minutes_of(visit)
    band = book.band(SERVICE, minutes, day)
    surcharge = surcharge_for(book, visit.check_in_at)
    percent = surcharge.percent if surcharge else 0
    base = band.amount_won if band else 0
    rule = book.rounding_rule("visit_amount", day)
    amount = round_won(base * (100 + percent), 100, rule.unit_won, rule.mode)
    reason = _not_covered_reason(
        book, profile, day, band is not None, bool(book.fee_bands(SERVICE, day))
    )
    if reason in (PrivatePayReason.BELOW_MINIMUM, PrivatePayReason.NO_TARIFF):
        coverage, amount = Coverage.NOT_BILLABLE, 0
    elif reason is not None:
        coverage = Coverage.PRIVATE_PAY
    else:
        coverage = Coverage.COVERED
    return StatementItem(
        visit_id=visit.visit_id,
        caregiver_id=visit.caregiver_id,
        date=day,
        start=local_start,
        end=visit.check_out_at.astimezone(KOREA),
        minutes=minutes,
        band_minutes=band.min_minutes if band else None,
        base_won=base,
        surcharge=surcharge.kind if surcharge else None,
        surcharge_label=SurchargeKind(surcharge.kind).label if surcharge else None,
        surcharge_percent=percent,
        amount_won=amount,
        coverage=coverage.value,
        coverage_label=coverage.label,
        reason=reason.value if reason else None,
        reason_label=reason.label if reason else None,
    )


def _not_covered_reason(
    book: TariffBook, profile: LtcProfile, day: date, has_band: bool, has_tariff: bool
) -> PrivatePayReason | None:
    if not has_tariff:
        return PrivatePayReason.NO_TARIFF
    if not has_band:
        return PrivatePayReason.BELOW_MINIMUM
    if profile.grade == "none":
        return PrivatePayReason.NO_GRADE
    if not book.entitled(profile.grade, SERVICE, day):
        return PrivatePayReason.NOT_ENTITLED
    valid_from, valid_to = profile.recognition_valid_from, profile.recognition_valid_to
    if (valid_from and day < valid_from) or (valid_to and day > valid_to):
        return PrivatePayReason.OUTSIDE_RECOGNITION
    return None


# -- the month -----------------------------------------------------------------------------------


def statement(
    book: TariffBook,
    profile: LtcProfile,
    month_first_day: date,
    visits: Sequence[VerifiedVisit],
    *,
    pending_review: int = 0,
) -> MonthStatement:
    """The month's statement from its verified visits (pure: every figure from `book`)."""
    ordered = sorted(visits, key=lambda v: (v.check_in_at, v.visit_id))
    items = [price_visit(book, visit, profile) for visit in ordered]
    cap_row = book.cap(profile.grade, month_first_day) if profile.grade != "none" else None
    cap = cap_row.amount_won if cap_row else 0
    items = _attribute_over_cap(items, cap)
    covered = sum(i.amount_won for i in items if i.coverage == Coverage.COVERED)
    private = sum(i.amount_won for i in items if i.coverage == Coverage.PRIVATE_PAY)
    within = min(covered, cap)
    copay_rule = book.rounding_rule("copay", month_first_day)
    copay = round_won(within * profile.copay_percent, 100, copay_rule.unit_won, copay_rule.mode)
    insurer = within - copay
    over = covered - within
    family = copay + over + private
    visit_rule = book.rounding_rule("visit_amount", month_first_day)
    used_rows = _rows_used(book, items, month_first_day, profile.grade)
    return MonthStatement(
        patient_id=profile.patient_id,
        month=f"{month_first_day:%Y-%m}",
        profile=profile,
        items=items,
        totals=StatementTotals(
            benefit_total_won=covered,
            cap_won=cap,
            within_cap_won=within,
            over_cap_won=over,
            insurer_won=insurer,
            copay_won=copay,
            private_pay_won=private,
            family_total_won=family,
            total_won=insurer + family,
        ),
        visits_counted=len(items),
        visits_pending_review=pending_review,
        rounding=[visit_rule.description, copay_rule.description],
        sources=sorted({row.source for row in used_rows}),
        unverified_figures=any(not row.verified for row in used_rows),
    )


def _attribute_over_cap(items: list[StatementItem], cap: int) -> list[StatementItem]:
    """Mark, in time order, the part of each covered visit above the cap."""
    running = 0
    out = []
    for item in items:
        if item.coverage != Coverage.COVERED:
            out.append(item)
            continue
        before = running
        running += item.amount_won
        over = max(0, running - max(cap, before))
        out.append(item.model_copy(update={"over_cap_won": over}))
    return out


def _rows_used(
    book: TariffBook, items: list[StatementItem], first_day: date, grade: str
) -> list[Effective]:
    rows: list[Effective] = [
        book.rounding_rule("visit_amount", first_day),
        book.rounding_rule("copay", first_day),
    ]
    cap = book.cap(grade, first_day)
    if cap is not None:
        rows.append(cap)
    for item in items:
        if item.band_minutes is not None:
            band = book.band(SERVICE, item.minutes, item.date)
            if band is not None:
                rows.append(band)
        if item.surcharge is not None:
            rows.extend(
                r for r in book.surcharges_on(SERVICE, item.date) if r.kind == item.surcharge
            )
    return rows


def usage(statement_: MonthStatement) -> CapUsage:
    used, cap = statement_.totals.benefit_total_won, statement_.totals.cap_won
    return CapUsage(used=used, cap=cap, ratio=round(used / cap, 4) if cap else None)


# -- with the database ---------------------------------------------------------------------------


def price_month(uow: UnitOfWork, patient_id: int, month: Month) -> MonthStatement:
    """The month's statement (see the module docstring); the caller authorizes and audits."""
    from shared.benefits import profiles
    from shared.benefits import repository as repo

    cur = uow.cursor
    profile = profiles.profile_on(cur, patient_id, month.last_day)
    book = repo.read_tariffs(cur, month.first_day, month.last_day)
    visits, pending = repo.read_verified_visits(cur, patient_id, month.start, month.end)
    return statement(book, profile, month.first_day, visits, pending_review=pending)


def month_usage(
    uow: UnitOfWork,
    patient_id: int,
    month: Month,
    planned: Sequence[tuple[datetime, datetime]] = (),
) -> CapUsage:
    """The month's use against the cap; `planned` (start, end) visits are priced in as well."""
    from shared.benefits import profiles
    from shared.benefits import repository as repo

    cur = uow.cursor
    profile = profiles.profile_on(cur, patient_id, month.last_day)
    book = repo.read_tariffs(cur, month.first_day, month.last_day)
    visits, pending = repo.read_verified_visits(cur, patient_id, month.start, month.end)
    extra = [
        VerifiedVisit(visit_id=-(i + 1), caregiver_id=0, check_in_at=start, check_out_at=end)
        for i, (start, end) in enumerate(planned)
    ]
    return usage(
        statement(book, profile, month.first_day, [*visits, *extra], pending_review=pending)
    )
