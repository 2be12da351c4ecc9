"""Timesheets (issue 18): per caregiver and Korean month, the delivered visits, their minutes
and the minutes inside each surcharge window, as JSON and as CSV for payroll. API.md
"Timesheets".

Who may read them:
- `GET /api/caregivers/me/timesheets/{month}`: a caregiver, their own;
- `GET /api/admin/timesheets/{month}?caregiver_id=`: operators, every caregiver's (or one's).

A visit counts when delivered (checked out; corrections applied), in the month of its check-in
in Korea. Its minutes are whole minutes from check-in to check-out (seconds dropped, as the
visit record counts them). The surcharge windows are those of the tariff (Korean time):
evening 18:00-22:00 (야간), night 22:00-06:00 (심야), holiday all day on Sundays and public
holidays (휴일), each as the tariff data has it in force on the day (shared.benefits.tariffs:
the windows of `ltc_surcharges`, the holidays of `ltc_public_holidays`, substitute holidays
included). Each window is
counted on its own: a Sunday-night minute is a night minute and a holiday minute (pricing applies
only the higher surcharge; payroll sees each). Every patient whose visits a timesheet shows gets
an audit event (view, or export for the CSV).

`surcharge_minutes` is pure; `caregiver_timesheet` and `admin_timesheets` are the services.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from models.benefits import SurchargeKind
from models.dates import KOREA
from models.timesheets import (
    AdminTimesheetQuery,
    CsvText,
    ExportFormat,
    SurchargeMinutes,
    Timesheet,
    TimesheetPage,
    TimesheetQuery,
    TimesheetTotals,
    TimesheetVisit,
)
from models.vocabularies import Role
from shared.audit import AuditAction
from shared.auth.authorization import require_role
from shared.benefits import timesheet_repository as repo
from shared.benefits.pricing import SERVICE
from shared.benefits.repository import read_tariffs
from shared.benefits.tariffs import TariffBook
from shared.errors import NotFoundError
from shared.visit_records.builder import Month
from shared.visit_records.service import parse_month

if TYPE_CHECKING:
    from shared.db import Cursor
    from shared.unit_of_work import UnitOfWork

RESOURCE = "timesheet"
CSV_HEADER = (
    "요양보호사 번호",
    "요양보호사",
    "방문 번호",
    "수급자 번호",
    "수급자",
    "일자",
    "시작",
    "종료",
    "제공 시간(분)",
    "야간(18-22시) 분",
    "심야(22-06시) 분",
    "휴일 분",
    "검토 대기",
)


@dataclass(frozen=True)
class Split:
    minutes: int
    evening: int
    night: int
    holiday: int


def _boundaries(book: TariffBook, day: date) -> list[time]:
    """The times of day at which a surcharge window in force on `day` opens or closes."""
    marks = {time(0)}
    for row in book.surcharges_on(SERVICE, day):
        marks.update(t for t in (row.window_start, row.window_end) if t is not None)
    return sorted(marks)


def _next_boundary(book: TariffBook, local: datetime) -> datetime:
    for mark in _boundaries(book, local.date()):
        candidate = datetime.combine(local.date(), mark, tzinfo=local.tzinfo)
        if candidate > local:
            return candidate
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)


def _kinds_at(book: TariffBook, local: datetime) -> set[str]:
    """The surcharge kinds whose window holds the instant (holiday: the whole day)."""
    kinds: set[str] = set()
    for row in book.surcharges_on(SERVICE, local.date()):
        if row.kind == SurchargeKind.HOLIDAY:
            if book.is_holiday(local.date()):
                kinds.add(row.kind)
        elif row.covers(local.time()):
            kinds.add(row.kind)
    return kinds


def surcharge_minutes(start: datetime, end: datetime, book: TariffBook) -> Split:
    """Whole minutes of [start, end) in total and inside each window (module docstring), the
    windows and holidays as the tariff book has them in force on each day."""
    if end <= start:
        raise ValueError("a visit ends after it starts")
    seconds = {kind.value: 0.0 for kind in SurchargeKind}
    at, stop = start.astimezone(KOREA), end.astimezone(KOREA)
    while at < stop:
        until = min(_next_boundary(book, at), stop)
        for kind in _kinds_at(book, at):
            seconds[kind] += (until - at).total_seconds()
        at = until
    return Split(
        minutes=int((end - start).total_seconds() // 60),
        evening=int(seconds[SurchargeKind.EVENING] // 60),
        night=int(seconds[SurchargeKind.NIGHT] // 60),
        holiday=int(seconds[SurchargeKind.HOLIDAY] // 60),
    )


def _visit(row: repo.TimesheetVisitRow, book: TariffBook) -> TimesheetVisit:
    start, end = row["check_in_at"].astimezone(KOREA), row["check_out_at"].astimezone(KOREA)
    split = surcharge_minutes(start, end, book)
    return TimesheetVisit(
        visit_id=row["visit_id"],
        patient_id=row["patient_id"],
        patient_name=row["patient_name"],
        date=start.date(),
        start=start,
        end=end,
        minutes=split.minutes,
        surcharge_minutes=SurchargeMinutes(
            evening=split.evening, night=split.night, holiday=split.holiday
        ),
        needs_review=row["needs_review"],
    )


def build_timesheet(
    caregiver: repo.CaregiverRow, month: Month, visits: Sequence[TimesheetVisit]
) -> Timesheet:
    """A caregiver's month from its priced visits (pure)."""
    return Timesheet(
        caregiver_id=caregiver["caregiver_id"],
        caregiver_name=caregiver["caregiver_name"],
        month=month.text,
        period_start=month.first_day,
        period_end=month.last_day,
        totals=TimesheetTotals(
            visits=len(visits),
            minutes=sum(v.minutes for v in visits),
            surcharge_minutes=SurchargeMinutes(
                evening=sum(v.surcharge_minutes.evening for v in visits),
                night=sum(v.surcharge_minutes.night for v in visits),
                holiday=sum(v.surcharge_minutes.holiday for v in visits),
            ),
        ),
        visits=list(visits),
    )


def _timesheets(cur: Cursor, caregivers: list[repo.CaregiverRow], month: Month) -> list[Timesheet]:
    """The caregivers' timesheets of the month: two statements whatever their number."""
    # A visit may run past midnight of the month's last day: the tariffs up to a day after it.
    book = read_tariffs(cur, month.first_day, month.last_day + timedelta(days=1))
    rows = repo.delivered_visits(cur, [c["caregiver_id"] for c in caregivers], *_bounds(month))
    by_caregiver: dict[int, list[TimesheetVisit]] = defaultdict(list)
    for row in rows:
        by_caregiver[row["caregiver_id"]].append(_visit(row, book))
    return [build_timesheet(c, month, by_caregiver[c["caregiver_id"]]) for c in caregivers]


def _bounds(month: Month) -> tuple[datetime, datetime]:
    return month.start, month.end


def _audit(uow: UnitOfWork, sheets: list[Timesheet], fmt: ExportFormat, month: Month) -> None:
    patients = sorted({v.patient_id for sheet in sheets for v in sheet.visits})
    action = AuditAction.EXPORT if fmt is ExportFormat.CSV else AuditAction.VIEW
    uow.audit_many(action, RESOURCE, [(patient_id, month.text) for patient_id in patients])


def caregiver_timesheet(
    uow: UnitOfWork, month_text: str, query: TimesheetQuery
) -> Timesheet | CsvText:
    """The calling caregiver's timesheet of the month (JSON, or CSV)."""
    month = parse_month(month_text)
    require_role(uow.principal, Role.CAREGIVER)
    cur = uow.cursor
    caregiver = repo.caregiver_of_user(cur, uow.principal.user_id)
    if caregiver is None:
        raise NotFoundError("This account has no caregiver profile yet.")
    sheets = _timesheets(cur, [caregiver], month)
    _audit(uow, sheets, query.format, month)
    if query.format is ExportFormat.CSV:
        return to_csv(sheets)
    return sheets[0]


def admin_timesheets(
    uow: UnitOfWork, month_text: str, query: AdminTimesheetQuery
) -> TimesheetPage | CsvText:
    """Operators: the month's timesheets of every caregiver with a delivered visit, or of the one
    named (paged by caregiver as JSON; every one of them in the CSV)."""
    month = parse_month(month_text)
    require_role(uow.principal, Role.ADMIN)
    cur = uow.cursor
    start, end = _bounds(month)
    csv_wanted = query.format is ExportFormat.CSV
    caregivers, total = repo.caregivers_of_month(
        cur,
        start,
        end,
        caregiver_id=query.caregiver_id,
        limit=None if csv_wanted else query.limit,
        offset=0 if csv_wanted else query.offset,
    )
    if query.caregiver_id is not None and not caregivers:
        named = repo.caregiver_named(cur, query.caregiver_id)
        if named is None:
            raise NotFoundError(f"No caregiver {query.caregiver_id}.")
        caregivers, total = [named], 1  # a month without visits is an empty timesheet
    sheets = _timesheets(cur, caregivers, month)
    _audit(uow, sheets, query.format, month)
    if csv_wanted:
        return to_csv(sheets)
    return TimesheetPage(month=month.text, items=sheets, total=total)


def _cell(text: str) -> str:
    """A name as a spreadsheet shows it, never as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(sheets: Sequence[Timesheet]) -> CsvText:
    """One row per visit under a Korean header; UTF-8 with a BOM so Excel reads the Korean."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for sheet in sheets:
        for v in sheet.visits:
            writer.writerow(
                (
                    sheet.caregiver_id,
                    _cell(sheet.caregiver_name),
                    v.visit_id,
                    v.patient_id,
                    _cell(v.patient_name),
                    v.date.isoformat(),
                    v.start.strftime("%H:%M"),
                    v.end.strftime("%H:%M"),
                    v.minutes,
                    v.surcharge_minutes.evening,
                    v.surcharge_minutes.night,
                    v.surcharge_minutes.holiday,
                    "Y" if v.needs_review else "",
                )
            )
    return CsvText(text=out.getvalue())


def csv_filename(month_text: str, caregiver_id: int | None = None) -> str:
    suffix = f"-{caregiver_id}" if caregiver_id is not None else ""
    return f"timesheets-{month_text}{suffix}.csv"
