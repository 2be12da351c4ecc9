"""The monthly visit record (급여제공기록지): per patient and Korean month, JSON and a Korean PDF
in Blob, read through the API, downloaded through a short-lived link, acknowledged by the
guardian and the caregiver, and generated for last month by a timer. API.md "Visit records".

Who may do what (shared.auth.authorization):
- read a record and ask for a download link (READ_CARE): the owning guardian, a caregiver of an
  active matching, operators; audited as a view (JSON) or an export (link);
- acknowledge a finished month: the owning guardian, or a caregiver who delivered a visit of the
  patient that month (and still serves the patient).

A record is built from the database on every read (shared.visit_records.builder) and compared
with the stored files by its fingerprint: the files are (re)written only when absent or stale
(a correction approved, a dose recorded, an acknowledgement, ...). The database work, its
authorization and its audit event are committed before the Blob calls and the PDF's rendering,
so no connection is held while they run.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from models.visit_records import DownloadLink, DownloadRequest, VisitRecord
from models.vocabularies import Role
from shared.audit import AuditAction, AuditActor, SystemActor
from shared.audit import record as audit_record
from shared.auth.authorization import PatientAction
from shared.errors import ConflictError, FieldError, ForbiddenError, ValidationFailedError
from shared.observability import get_ops_logger
from shared.visit_records import builder, pdf, sections, store
from shared.visit_records import repository as repo
from shared.visit_records.builder import Month, MonthRows

if TYPE_CHECKING:
    from shared.db import Cursor
    from shared.unit_of_work import UnitOfWork

log = get_ops_logger("visit_records")

RESOURCE = "visit_record"
TIMER_NAME = "monthly_visit_records"


class MonthOpenError(ConflictError):
    code = "visit_record_month_open"


def parse_month(text: str, now: datetime | None = None) -> Month:
    """The `{month}` path segment (YYYY-MM, not after this Korean month nor before the first
    record layout in force); 422 otherwise."""
    try:
        month = Month.parse(text)
    except ValueError as exc:
        raise ValidationFailedError([FieldError(loc=("path", "month"), msg=str(exc))]) from None
    if month.first_day > Month.containing(now or datetime.now(UTC)).first_day:
        raise ValidationFailedError(
            [FieldError(loc=("path", "month"), msg="a month that has not begun has no record")]
        )
    first = sections.first_month()
    if month.first_day < first:
        raise ValidationFailedError(
            [FieldError(loc=("path", "month"), msg=f"records begin with {first:%Y-%m}")]
        )
    return month


def read_rows(cur: Cursor, patient_id: int, month: Month) -> MonthRows:
    """Everything the month's record is made of (one transaction)."""
    patient = repo.patient(cur, patient_id)
    if patient is None:  # pragma: no cover - authorized or listed just before
        raise LookupError(f"patient {patient_id} is gone")
    visits = repo.visits(cur, patient_id, month.start, month.end)
    delivered = [v for v in visits if v["status"] == "completed"]
    schedule_ids = sorted({v["schedule_id"] for v in delivered})
    return MonthRows(
        month=month,
        patient=patient,
        visits=visits,
        activities=repo.activities(cur, patient_id, schedule_ids),
        medications=repo.medications(cur, patient_id, [v["visit_id"] for v in visits]),
        incidents=repo.incidents(cur, patient_id, month.start, month.end),
        acknowledgements=repo.acknowledgements(cur, patient_id, month.first_day),
    )


def ensure_stored(rows: MonthRows, now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """The record as stored, (re)writing its files when absent or stale; and whether it wrote."""
    content = builder.build(rows)
    patient_id, month = rows.patient["patient_id"], rows.month.text
    stored = store.read_json(patient_id, month)
    if stored is not None and stored.content_sha256 == content["content_sha256"]:
        return json.loads(stored.body), False
    content["generated_at"] = (now or datetime.now(UTC)).isoformat()
    document = pdf.render(content)
    body = json.dumps(content, ensure_ascii=False, indent=1).encode()
    store.write(patient_id, month, content["content_sha256"], document, body)
    return content, True


def get_record(uow: UnitOfWork, patient_id: int, month_text: str) -> VisitRecord:
    """The month's record as JSON (READ_CARE), generated if absent or stale; audited (view)."""
    month = parse_month(month_text)
    uow.authorize(patient_id, PatientAction.READ_CARE)
    rows = read_rows(uow.cursor, patient_id, month)
    uow.audit(
        AuditAction.VIEW,
        RESOURCE,
        patient_id=patient_id,
        resource_id=month.text,
        detail={"fields": ["visit_record"]},
    )
    uow.commit()
    record, _ = ensure_stored(rows)
    return VisitRecord.model_validate(record)


def download_link(
    uow: UnitOfWork, patient_id: int, month_text: str, body: DownloadRequest
) -> DownloadLink:
    """A short-lived read-only link to the month's PDF or JSON (READ_CARE); audited (export)."""
    month = parse_month(month_text)
    uow.authorize(patient_id, PatientAction.READ_CARE)
    rows = read_rows(uow.cursor, patient_id, month)
    uow.audit(
        AuditAction.EXPORT,
        RESOURCE,
        patient_id=patient_id,
        resource_id=month.text,
        detail={"format": body.format.value},
    )
    uow.commit()
    record, _ = ensure_stored(rows)
    url, expires_at = store.link(patient_id, month.text, body.format)
    return DownloadLink(
        url=url, expires_at=expires_at, format=body.format, content_sha256=record["content_sha256"]
    )


def acknowledge(uow: UnitOfWork, patient_id: int, month_text: str) -> VisitRecord:
    """The caller acknowledges a finished month's record (module docstring); the record with it."""
    month = parse_month(month_text)
    uow.authorize(patient_id, PatientAction.READ_CARE)
    principal = uow.principal
    cur = uow.cursor
    if principal.role == Role.CAREGIVER and not repo.served_in_month(
        cur, patient_id, principal.user_id, month.start, month.end
    ):
        raise ForbiddenError(
            "Only a caregiver who delivered a visit of this patient in the month acknowledges "
            "its record."
        )
    if month.first_day >= Month.containing(datetime.now(UTC)).first_day:
        raise MonthOpenError(
            f"{month.text} is not over yet: its record is acknowledged from the 1st of the "
            "next month."
        )
    repo.acknowledge(cur, patient_id, month.first_day, principal.user_id, principal.role.value)
    uow.audit(
        AuditAction.CREATE,
        "visit_record_acknowledgement",
        patient_id=patient_id,
        resource_id=month.text,
        detail={"role": principal.role.value},
    )
    rows = read_rows(cur, patient_id, month)
    uow.commit()
    record, _ = ensure_stored(rows)
    return VisitRecord.model_validate(record)


# -- the monthly timer ---------------------------------------------------------------------------


def generate_month(
    month: Month,
    *,
    batch_size: int = 50,
    actor: AuditActor | None = None,
    database: Any = None,
    budget_seconds: float | None = None,
    resume: bool = False,
) -> dict[str, int]:
    """Write every record of `month` (patients with a visit planned in it) that is absent or
    stale, in batches of patients by id. Safe to run twice: an unchanged record is compared,
    not rewritten. Returns the counts, `completed` 1 when every patient was done without failure.

    `budget_seconds`: stop after the batch that passes it (a run must end before the host's
    function timeout). `resume` (the timer): start after the last patient a paused run reached,
    and do nothing for a month already completed; the progress is kept in Blob beside the
    records (shared.visit_records.store), so any instance continues where another stopped."""
    from shared.unit_of_work import UnitOfWork

    actor = actor or SystemActor.timer(TIMER_NAME)
    options = {"database": database} if database is not None else {}
    counts = {"patients": 0, "written": 0, "unchanged": 0, "failed": 0, "completed": 0}
    progress = store.read_progress(month.text) if resume else None
    if progress and progress.get("completed"):
        log.info("visit_records_already_completed", month=month.text)
        return {**counts, "completed": 1}
    after = int(progress["after"]) if progress else 0
    started = time.monotonic()
    log.info("visit_records_started", month=month.text, after_patient_id=after)
    while True:
        with UnitOfWork.for_job(**options) as uow:
            batch = repo.patients_with_visits(uow.cursor, month.start, month.end, after, batch_size)
        if not batch:
            break
        for patient_id in batch:
            counts["patients"] += 1
            counts[_write_one(patient_id, month, actor, options)] += 1
        after = batch[-1]
        log.info("visit_records_progress", month=month.text, last_patient_id=after, **counts)
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            if resume:
                store.write_progress(month.text, {"after": after, "completed": False})
            log.warning("visit_records_paused", month=month.text, last_patient_id=after, **counts)
            return counts
    counts["completed"] = int(counts["failed"] == 0)
    if resume:
        # A month with failures starts over at the next run (the done ones are only compared).
        store.write_progress(month.text, {"after": 0, "completed": bool(counts["completed"])})
    level = log.error if counts["failed"] else log.info
    level("visit_records_completed", month=month.text, **counts)
    return counts


def _write_one(patient_id: int, month: Month, actor: AuditActor, options: dict[str, Any]) -> str:
    """One patient's record written or compared: "written", "unchanged" or "failed"."""
    from shared.unit_of_work import UnitOfWork

    try:
        with UnitOfWork.for_job(**options) as uow:
            rows = read_rows(uow.cursor, patient_id, month)
            audit_record(
                uow.cursor,
                actor,
                AuditAction.EXPORT,
                patient_id=patient_id,
                resource_type=RESOURCE,
                resource_id=month.text,
                detail={"format": "json+pdf"},
            )
        _, wrote = ensure_stored(rows)
    except Exception as exc:  # one patient's failure must not stop the month
        log.error(
            "visit_record_failed", month=month.text, patient_id=patient_id, error=type(exc).__name__
        )
        return "failed"
    return "written" if wrote else "unchanged"
