"""The monthly visit record (급여제공기록지): read, download link, acknowledgement
(shared.visit_records.service), and the timer that writes last month's records.

The timer fires every hour and works on the 1st and 2nd of the month in Korea (NCRONTAB runs in
UTC and cannot say "the 1st in Korea": that starts at 15:00 UTC on the previous month's last
day, the 28th to the 31st). Its first run, 00:00 KST on the 1st, starts last month's records;
each run stops within RUN_BUDGET_SECONDS (the host's functionTimeout is 30 minutes) and the next
hour's run continues where it stopped (progress kept in Blob), so a month of any size is done in
hours; once the month is complete, the remaining runs of those two days return at once. A record
missed by all of them is still generated on demand when first read.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from models.dates import KOREA
from models.visit_records import DownloadLink, DownloadRequest, VisitRecord
from models.vocabularies import Role
from shared.config import get_settings
from shared.http import Api, ApiRequest
from shared.observability import bind_context, clear_context, configure_logging, get_logger
from shared.visit_records import service

api = Api(tag="visit-records")
bp = api.blueprint
log = get_logger("timers")

#: Every hour on the hour (UTC); the job works only on the Korean days in RUN_ON_DAYS.
MONTHLY_VISIT_RECORDS_SCHEDULE = "0 0 * * * *"
RUN_ON_DAYS = (1, 2)
#: A run stops after the batch that passes this; under the host's 30-minute functionTimeout.
RUN_BUDGET_SECONDS = 25 * 60
RECORD_PATH = "api/patients/{patient_id:long}/visit-records/{month}"


@api.route(
    "GET",
    RECORD_PATH,
    name="visit_records_get",
    response=VisitRecord,
    errors=(403, 404, 422),
)
def get_record(request: ApiRequest) -> VisitRecord:
    """The month's visit record (YYYY-MM) as JSON, generated if absent or stale (READ_CARE)."""
    params = request.path_params
    return service.get_record(request.uow, params["patient_id"], params["month"])


@api.route(
    "POST",
    RECORD_PATH + "/download",
    name="visit_records_download",
    body=DownloadRequest,
    response=DownloadLink,
    errors=(403, 404, 422),
)
def download(request: ApiRequest) -> DownloadLink:
    """A short-lived read-only link to the month's record as PDF or JSON (READ_CARE)."""
    params = request.path_params
    return service.download_link(request.uow, params["patient_id"], params["month"], request.body)


@api.route(
    "POST",
    RECORD_PATH + "/acknowledgements",
    name="visit_records_acknowledge",
    roles=(Role.GUARDIAN, Role.CAREGIVER),
    response=VisitRecord,
    errors=(403, 404, 409, 422),
)
def acknowledge(request: ApiRequest) -> VisitRecord:
    """The owning guardian or a caregiver of the month acknowledges a finished month's record."""
    params = request.path_params
    return service.acknowledge(request.uow, params["patient_id"], params["month"])


@bp.function_name(name="monthly_visit_records")
@bp.timer_trigger(arg_name="timer", schedule=MONTHLY_VISIT_RECORDS_SCHEDULE, run_on_startup=False)
def monthly_visit_records(timer: func.TimerRequest) -> None:
    """Hourly; on the 1st and 2nd in Korea: last month's visit records (module docstring)."""
    configure_logging(get_settings())
    clear_context()
    bind_context(function="monthly_visit_records", past_due=bool(timer.past_due))
    run_monthly(datetime.now(UTC))


def run_monthly(now: datetime) -> dict[str, int] | None:
    """Continue last month's records on the 1st and 2nd in Korea; None (and a log line) on
    other days or while another run holds the lock."""
    from shared.backup.locks import job_lock
    from shared.backup.sessions import database_url
    from shared.visit_records.builder import Month

    korea = now.astimezone(KOREA)
    if korea.day not in RUN_ON_DAYS:
        return None
    with job_lock(database_url(), service.TIMER_NAME) as lock:
        if not lock.acquired:
            log.info("monthly_visit_records_skipped", reason="another run holds the lock")
            return None
        month = Month.containing(now).previous()
        return service.generate_month(month, budget_seconds=RUN_BUDGET_SECONDS, resume=True)
