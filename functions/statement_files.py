"""The monthly statement's files (shared.benefits.statement_files): a short-lived download link
to the JSON or the Korean PDF, and the timer that writes last month's statements; and the timer
of the notifications at 80 % and 100 % of the monthly cap (shared.benefits.usage_alerts).

The timer, as the visit records' (functions/visit_records.py): NCRONTAB runs in UTC and cannot
say "the 1st at 01:30 in Korea" (16:30 UTC on the previous month's last day, the 28th to the
31st). It fires at 16:30 UTC on the 28th to the 31st and works only when it is then the 1st in
Korea, so it writes last month's statements at 01:30 KST on the 1st (after the visit records),
once; a statement it misses is written on demand at its first download.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from models.dates import KOREA
from models.visit_records import DownloadLink, DownloadRequest
from models.vocabularies import Role
from shared.benefits import statement_files as service
from shared.config import get_settings
from shared.http import Api, ApiRequest
from shared.observability import bind_context, clear_context, configure_logging, get_logger

api = Api(tag="benefits")
bp = api.blueprint
log = get_logger("timers")

#: 16:30 UTC on the 28th-31st = 01:30 KST on the 29th-1st; the job acts on the 1st only.
MONTHLY_STATEMENTS_SCHEDULE = "0 30 16 28-31 * *"
#: The notifications at 80 % and 100 % of the monthly cap (shared.benefits.usage_alerts).
BENEFIT_USAGE_ALERTS_SCHEDULE = "0 */15 * * * *"


@api.route(
    "POST",
    "api/patients/{patient_id:long}/statements/{month}/download",
    name="benefits_statement_download",
    roles=(Role.GUARDIAN, Role.ADMIN),
    body=DownloadRequest,
    response=DownloadLink,
    errors=(403, 404, 422),
)
def download(request: ApiRequest) -> DownloadLink:
    """A short-lived read-only link to the month's statement as PDF or JSON (owner, operators)."""
    params = request.path_params
    return service.download_link(request.uow, params["patient_id"], params["month"], request.body)


@bp.function_name(name="monthly_statements")
@bp.timer_trigger(arg_name="timer", schedule=MONTHLY_STATEMENTS_SCHEDULE, run_on_startup=False)
def monthly_statements(timer: func.TimerRequest) -> None:
    """01:30 KST on the 1st: last month's statements for every patient with delivered visits."""
    configure_logging(get_settings())
    clear_context()
    bind_context(function="monthly_statements", past_due=bool(timer.past_due))
    run_monthly(datetime.now(UTC))


def run_monthly(now: datetime) -> dict[str, int] | None:
    """Last month's statements when it is the 1st in Korea; None (and a log line) otherwise."""
    from shared.backup.locks import job_lock
    from shared.backup.sessions import database_url
    from shared.visit_records.builder import Month

    if now.astimezone(KOREA).day != 1:
        log.info("monthly_statements_not_the_first", korea_date=str(now.astimezone(KOREA).date()))
        return None
    with job_lock(database_url(), service.TIMER_NAME) as lock:
        if not lock.acquired:
            log.info("monthly_statements_skipped", reason="another run holds the lock")
            return None
        return service.generate_month(Month.containing(now).previous())


@bp.function_name(name="benefit_usage_alerts")
@bp.timer_trigger(arg_name="timer", schedule=BENEFIT_USAGE_ALERTS_SCHEDULE, run_on_startup=False)
def benefit_usage_alerts(timer: func.TimerRequest) -> None:
    """Every 15 minutes: tell guardians whose month reached 80 % or 100 % of the cap (once)."""
    from shared.backup.locks import job_lock
    from shared.backup.sessions import database_url
    from shared.benefits import usage_alerts

    configure_logging(get_settings())
    clear_context()
    bind_context(function="benefit_usage_alerts", past_due=bool(timer.past_due))
    with job_lock(database_url(), usage_alerts.TIMER_NAME) as lock:
        if not lock.acquired:
            log.info("benefit_usage_alerts_skipped", reason="another run holds the lock")
            return
        usage_alerts.run_alerts()
