"""The monthly visit record (급여제공기록지): read, download link, acknowledgement
(shared.visit_records.service), and the timer that writes last month's records.

The timer: NCRONTAB runs in UTC and cannot say "the 1st at 01:00 in Korea" (that is 16:00 UTC
on the previous month's last day, the 28th to the 31st). It fires at 16:00 UTC on the 28th to
the 31st and works only when it is then the 1st in Korea, so it writes last month's records at
01:00 KST on the 1st, once. A run late by a restart (`past_due`) still finds the 1st in Korea
until 15:00 UTC; a run that is skipped or dies is made good by the next read of each record
(generated on demand when absent or stale).
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

#: 16:00 UTC on the 28th-31st = 01:00 KST on the 29th-1st; the job acts on the 1st only.
MONTHLY_VISIT_RECORDS_SCHEDULE = "0 0 16 28-31 * *"
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
    """01:00 KST on the 1st: last month's visit records for every patient with visits."""
    configure_logging(get_settings())
    clear_context()
    bind_context(function="monthly_visit_records", past_due=bool(timer.past_due))
    run_monthly(datetime.now(UTC))


def run_monthly(now: datetime) -> dict[str, int] | None:
    """Last month's records when it is the 1st in Korea; None (and a log line) otherwise."""
    from shared.backup.locks import job_lock
    from shared.backup.sessions import database_url
    from shared.visit_records.builder import Month

    if now.astimezone(KOREA).day != 1:
        log.info(
            "monthly_visit_records_not_the_first", korea_date=str(now.astimezone(KOREA).date())
        )
        return None
    with job_lock(database_url(), service.TIMER_NAME) as lock:
        if not lock.acquired:
            log.info("monthly_visit_records_skipped", reason="another run holds the lock")
            return None
        return dict(service.generate_month(Month.containing(now).previous()))
