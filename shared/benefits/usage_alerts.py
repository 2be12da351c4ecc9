"""The month's use of the long-term-care benefit against the cap (issue 18): the guardian's
dashboard panel, the notifications at 80 % and 100 %, and the warnings of a new schedule or a
confirmed care plan that would pass the cap.

- `usage_panels(uow, care_levels)`: this Korean month's 급여비용 of verified visits against
  the grade's cap for each of the guardian's patients, priced by the same pure engine as the
  statement (shared.benefits.pricing.statement) from a fixed number of reads, for the dashboard
  (which authorizes and audits); None for a month without tariff data.
- `alert(uow, patient_id, month)`: publishes `benefit_cap_80` / `benefit_cap_100` through the
  outbox (shared.notifications.outbox) when the month's use has reached 80 % / 100 % of the cap,
  to the guardian; once per patient, month and threshold (the outbox's dedupe key), so it is safe
  to call again. The `benefit_usage_alerts` timer (`run_alerts`) calls it every 15 minutes for
  each patient with a delivered visit this month (on the 1st, last month's too): a visit checked
  out, a correction approved or a manual visit reviewed is announced within 15 minutes.
- `create_schedule` and `confirm_care_plan`: the care services' own answers, with `warnings`
  for each month whose estimate passes the cap (how much by). The estimate is the month's
  verified visits plus its visits planned and not delivered (their planned times) plus its days
  from today scheduled without a visit (each one daytime visit of BENEFIT_ESTIMATE_VISIT_MINUTES
  from 09:00 in Korea), priced by the same engine. A warning never refuses the change: care is
  the family's decision and the part above the cap is theirs to pay.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast

from models.benefit_usage import (
    BenefitUsage,
    CapWarning,
    CarePlanConfirmed,
    ScheduleCreated,
    UsageLevel,
)
from models.benefits import LtcProfile
from models.care import ScheduleCreate
from models.dates import KOREA, korea_today
from models.vocabularies import NotificationEvent
from shared.audit import AuditAction, AuditActor, SystemActor
from shared.audit import record as audit_record
from shared.benefits import profiles
from shared.benefits import usage_repository as repo
from shared.benefits.pricing import VerifiedVisit, month_usage, statement, usage
from shared.benefits.repository import read_tariffs
from shared.benefits.tariffs import MissingTariffError
from shared.config import get_settings
from shared.notifications.outbox import Notice, publish
from shared.observability import get_ops_logger
from shared.visit_records.builder import Month

if TYPE_CHECKING:
    from models.benefits import CapUsage
    from shared.benefits.repository import ProfileRow
    from shared.unit_of_work import UnitOfWork

log = get_ops_logger("benefit_usage")

TIMER_NAME = "benefit_usage_alerts"
#: Percent of the cap -> the event announcing it (the issue: 80 % and 100 %).
THRESHOLDS = ((100, NotificationEvent.BENEFIT_CAP_100), (80, NotificationEvent.BENEFIT_CAP_80))
#: A day scheduled without planned visits is estimated from this time of day (no surcharge).
ESTIMATE_START = time(9, 0)
#: The calendar's last month (December 9999) has no next month, so no end instant.
LAST_MONTH = date(MAXYEAR, 12, 1)


def percent_of(used: int, cap: int) -> int | None:
    """Whole percent of the cap used (floor), None without a cap."""
    return used * 100 // cap if cap > 0 else None


def level_of(percent: int | None) -> UsageLevel | None:
    if percent is None:
        return None
    if percent > 100:
        return UsageLevel.OVER
    if percent == 100:
        return UsageLevel.REACHED
    return UsageLevel.NEAR if percent >= 80 else UsageLevel.WITHIN


def panel(month: Month, usage: CapUsage) -> BenefitUsage:
    percent = percent_of(usage.used, usage.cap)
    level = level_of(percent)
    return BenefitUsage(
        month=month.text,
        used_won=usage.used,
        cap_won=usage.cap,
        percent=percent,
        level=level,
        level_label=level.label if level else None,
    )


def _profile(row: dict[str, Any]) -> LtcProfile:
    return profiles.from_row(cast("ProfileRow", row))


def usage_panels(
    uow: UnitOfWork, care_levels: dict[int, str], today: date
) -> dict[int, BenefitUsage | None]:
    """This month's use of several patients (patient id -> its `care_level`) in a fixed number of
    statements whatever their number (the dashboard's rule): the tariffs, the profiles and the
    visits read once, each month priced by the same pure engine."""
    month = Month(today.replace(day=1))
    ids = sorted(care_levels)
    if not ids:
        return {}
    cur = uow.cursor
    try:
        book = read_tariffs(cur, month.first_day, month.last_day)
        rows = repo.profile_rows_on(cur, ids, month.last_day)
        visits: dict[int, list[VerifiedVisit]] = {pid: [] for pid in ids}
        pending = dict.fromkeys(ids, 0)
        for v in repo.completed_visits_of(cur, ids, month):
            if v["pending"]:
                pending[v["patient_id"]] += 1
            else:
                visits[v["patient_id"]].append(
                    VerifiedVisit(
                        v["visit_id"], v["caregiver_id"], v["check_in_at"], v["check_out_at"]
                    )
                )
        panels: dict[int, BenefitUsage | None] = {}
        for pid in ids:
            row = rows.get(pid)
            profile = _profile(row) if row else profiles.derived(pid, care_levels[pid])
            priced = statement(
                book, profile, month.first_day, visits[pid], pending_review=pending[pid]
            )
            panels[pid] = panel(month, usage(priced))
    except MissingTariffError:
        log.warning("benefit_tariffs_missing", month=month.text)
        return dict.fromkeys(ids)
    return panels


# -- notifications at 80 % and 100 % ------------------------------------------------------------


def alert(uow: UnitOfWork, patient_id: int, month: Month) -> list[int]:
    """Publish the thresholds the month's use has reached (module docstring); the thresholds
    newly announced."""
    usage = month_usage(uow, patient_id, month)
    percent = percent_of(usage.used, usage.cap)
    announced: list[int] = []
    for threshold, event in THRESHOLDS:
        if percent is None or percent < threshold:
            continue
        notice = Notice(
            event=event,
            key=f"{patient_id}:{month.text}",
            patient_id=patient_id,
            data={
                "month": month.text,
                "used": usage.used,
                "cap": usage.cap,
                "threshold_percent": threshold,
            },
        )
        if publish(uow, notice):
            announced.append(threshold)
    return announced


def months_to_alert(now: datetime) -> list[Month]:
    """This Korean month; on its 1st also the month before, whose last visits (checked in that
    evening and out after the month's last run, or reviewed overnight) no run saw."""
    month = Month.containing(now)
    if now.astimezone(KOREA).day == 1:
        return [month.previous(), month]
    return [month]


def run_alerts(
    now: datetime | None = None,
    *,
    batch_size: int = 100,
    actor: AuditActor | None = None,
    database: Any = None,
) -> dict[str, int]:
    """The timer's work: `alert` for every patient with a delivered visit this Korean month (on
    the 1st, last month's too: `months_to_alert`), in batches by patient id, each patient its
    own transaction (audited as the timer when it announced something). Returns the counts."""
    from shared.unit_of_work import UnitOfWork

    months = months_to_alert(now or datetime.now(UTC))
    actor = actor or SystemActor.timer(TIMER_NAME)
    options = {"database": database} if database is not None else {}
    counts = {"patients": 0, "announced": 0, "failed": 0}
    for month in months:
        after = 0
        while True:
            with UnitOfWork.for_job(**options) as uow:
                batch = repo.patients_with_visits(uow.cursor, month, after, batch_size)
            if not batch:
                break
            for patient_id in batch:
                counts["patients"] += 1
                try:
                    with UnitOfWork.for_job(**options) as uow:
                        announced = alert(uow, patient_id, month)
                        if announced:
                            audit_record(
                                uow.cursor,
                                actor,
                                AuditAction.VIEW,
                                patient_id=patient_id,
                                resource_type="benefit_usage",
                                resource_id=f"{patient_id}/{month.text}",
                                detail={"month": month.text, "thresholds": announced},
                            )
                except Exception as exc:  # one patient's failure must not stop the others
                    counts["failed"] += 1
                    log.error(
                        "benefit_usage_alert_failed",
                        patient_id=patient_id,
                        month=month.text,
                        error=type(exc).__name__,
                    )
                    continue
                counts["announced"] += len(announced)
            after = batch[-1]
    level = log.error if counts["failed"] else log.info
    level(
        "benefit_usage_alerts_completed",
        month=months[-1].text,
        months=[m.text for m in months],
        **counts,
    )
    return counts


# -- warnings when care is planned ---------------------------------------------------------------


def _estimate_interval(day: date, minutes: int) -> tuple[datetime, datetime]:
    start = datetime.combine(day, ESTIMATE_START, tzinfo=KOREA)
    return start, start + timedelta(minutes=minutes)


def cap_warnings(uow: UnitOfWork, patient_id: int, days: Iterable[date]) -> list[CapWarning]:
    """A warning for each month of `days` whose estimate passes the cap (module docstring)."""
    minutes = get_settings().benefit_estimate_visit_minutes
    today = korea_today()
    cur = uow.cursor
    warnings = []
    for month in sorted({Month(day.replace(day=1)) for day in days}, key=lambda m: m.first_day):
        if month.first_day >= LAST_MONTH:  # no end to price it to; no tariff data covers it
            continue
        planned = [
            (v["planned_start"], v["planned_end"])
            for v in repo.planned_visits(cur, patient_id, month)
        ]
        planned += [
            _estimate_interval(day, minutes)
            for day in repo.days_without_visits(cur, patient_id, month, today=today)
        ]
        try:
            usage = month_usage(uow, patient_id, month, planned)
        except MissingTariffError:  # a month the tariff data do not cover: nothing to compare
            continue
        if usage.cap > 0 and usage.used > usage.cap:
            over = usage.used - usage.cap
            warnings.append(
                CapWarning(
                    month=month.text,
                    estimated_won=usage.used,
                    cap_won=usage.cap,
                    over_by_won=over,
                    message=(
                        f"{month.first_day.year}년 {month.first_day.month}월 예상 급여비용"
                        f" {usage.used:,}원이 월 한도액 {usage.cap:,}원을 {over:,}원 초과합니다."
                        " 초과분은 전액 본인 부담입니다."
                    ),
                )
            )
    return warnings


def create_schedule(uow: UnitOfWork, patient_id: int, body: ScheduleCreate) -> ScheduleCreated:
    """shared.care.service.create_schedule, with the cap warnings of the schedule's month."""
    from shared.care import service as care

    schedule = care.create_schedule(uow, patient_id, body)
    days = [schedule.schedule_date] if schedule.status == "scheduled" else []
    return ScheduleCreated(**schedule.model_dump(), warnings=cap_warnings(uow, patient_id, days))


def confirm_care_plan(uow: UnitOfWork, care_plan_id: int) -> CarePlanConfirmed:
    """shared.care_plans.service.confirm_care_plan, with the cap warnings of its months."""
    from shared.care_plans import service as care_plans

    plan = care_plans.confirm_care_plan(uow, care_plan_id)
    days = [day.date for day in plan.days if day.status == "scheduled"]
    return CarePlanConfirmed(**plan.model_dump(), warnings=cap_warnings(uow, plan.patient_id, days))
