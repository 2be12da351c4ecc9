"""The monthly statement's files (장기요양급여비용 명세서): JSON and a Korean PDF in Blob,
downloaded through a short-lived link, and written for last month by a timer. API.md
"Long-term-care benefits", `POST .../statements/{month}/download`.

Who may: the owning guardian and operators (MANAGE_BENEFITS, as for the statement itself);
audited as an export. The statement is priced from the database on every request
(shared.benefits.pricing.price_month) and compared with the stored files by its fingerprint (the
SHA-256 of the statement and the patient's name and birth date the PDF prints): the files are
(re)written only when absent or stale (a visit delivered, a correction approved, a profile
changed). The database work, its authorization and its audit event are committed before the
Blob calls and the PDF's rendering, so no connection is held meanwhile.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from models.benefits import MonthStatement
from models.visit_records import DownloadLink, DownloadRequest
from shared.audit import AuditAction, AuditActor, SystemActor
from shared.audit import record as audit_record
from shared.auth.authorization import PatientAction
from shared.benefits import statement_pdf, statement_store
from shared.benefits import usage_repository as usage_repo
from shared.benefits.pricing import price_month
from shared.benefits.statements import RESOURCE, parse_month
from shared.benefits.tariffs import MissingTariffError
from shared.errors import FieldError, ValidationFailedError
from shared.observability import get_ops_logger
from shared.visit_records import repository as visit_records_repo
from shared.visit_records.builder import Month

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

log = get_ops_logger("benefit_statements")

TIMER_NAME = "monthly_statements"


@dataclass(frozen=True)
class StatementContent:
    """What the files are made of: the statement and the patient the PDF names."""

    statement: MonthStatement
    patient: dict[str, Any]

    @property
    def content_sha256(self) -> str:
        canonical = json.dumps(
            {"statement": self.statement.model_dump(mode="json"), "patient": self.patient},
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def read_content(uow: UnitOfWork, patient_id: int, month: Month) -> StatementContent:
    """The month's statement and the patient's name and birth date (one transaction); a month
    before the tariff data is a 422 naming the month, as for the statement itself."""
    try:
        statement = price_month(uow, patient_id, month)
    except MissingTariffError:
        raise ValidationFailedError(
            [FieldError(loc=("path", "month"), msg="no long-term-care tariffs for this month")]
        ) from None
    row = visit_records_repo.patient(uow.cursor, patient_id)
    if row is None:  # pragma: no cover - authorized or listed just before
        raise LookupError(f"patient {patient_id} is gone")
    patient = {"name": row["name"], "birth_date": row["birth_date"].isoformat()}
    return StatementContent(statement=statement, patient=patient)


def ensure_stored(content: StatementContent, now: datetime | None = None) -> tuple[str, bool]:
    """The fingerprint of the stored files, (re)writing them when absent or stale; and whether
    it wrote."""
    fingerprint = content.content_sha256
    patient_id, month = content.statement.patient_id, content.statement.month
    if statement_store.read_fingerprint(patient_id, month) == fingerprint:
        return fingerprint, False
    generated_at = (now or datetime.now(UTC)).isoformat()
    document = statement_pdf.render(content.statement, content.patient, fingerprint, generated_at)
    body = json.dumps(
        {
            **content.statement.model_dump(mode="json"),
            "patient": content.patient,
            "content_sha256": fingerprint,
            "generated_at": generated_at,
        },
        ensure_ascii=False,
        indent=1,
    ).encode()
    statement_store.write(patient_id, month, fingerprint, document, body)
    return fingerprint, True


def download_link(
    uow: UnitOfWork, patient_id: int, month_text: str, body: DownloadRequest
) -> DownloadLink:
    """A short-lived read-only link to the month's statement as PDF or JSON (owning guardian,
    operators); audited as an export."""
    month = parse_month(month_text)
    uow.authorize(patient_id, PatientAction.MANAGE_BENEFITS)
    content = read_content(uow, patient_id, month)
    uow.audit(
        AuditAction.EXPORT,
        RESOURCE,
        patient_id=patient_id,
        resource_id=f"{patient_id}/{month.text}",
        detail={"month": month.text, "format": body.format.value},
    )
    uow.commit()
    fingerprint, _ = ensure_stored(content)
    url, expires_at = statement_store.link(patient_id, month.text, body.format)
    return DownloadLink(
        url=url, expires_at=expires_at, format=body.format, content_sha256=fingerprint
    )


# -- the monthly timer ---------------------------------------------------------------------------


def generate_month(
    month: Month,
    *,
    batch_size: int = 50,
    actor: AuditActor | None = None,
    database: Any = None,
) -> dict[str, int]:
    """Write every statement of `month` (patients with a delivered visit in it) that is absent
    or stale, in batches of patients by id; safe to run twice (unchanged statements are not
    rewritten) and to interrupt. Returns the counts."""
    from shared.unit_of_work import UnitOfWork

    actor = actor or SystemActor.timer(TIMER_NAME)
    options = {"database": database} if database is not None else {}
    counts = {"patients": 0, "written": 0, "unchanged": 0, "failed": 0}
    after = 0
    log.info("statements_started", month=month.text)
    while True:
        with UnitOfWork.for_job(**options) as uow:
            batch = usage_repo.patients_with_visits(uow.cursor, month, after, batch_size)
        if not batch:
            break
        for patient_id in batch:
            counts["patients"] += 1
            try:
                with UnitOfWork.for_job(**options) as uow:
                    content = read_content(uow, patient_id, month)
                    audit_record(
                        uow.cursor,
                        actor,
                        AuditAction.EXPORT,
                        patient_id=patient_id,
                        resource_type=RESOURCE,
                        resource_id=f"{patient_id}/{month.text}",
                        detail={"month": month.text, "format": "json+pdf"},
                    )
                _, wrote = ensure_stored(content)
            except Exception as exc:  # one patient's failure must not stop the month
                counts["failed"] += 1
                log.error(
                    "statement_failed",
                    month=month.text,
                    patient_id=patient_id,
                    error=type(exc).__name__,
                )
                continue
            counts["written" if wrote else "unchanged"] += 1
        after = batch[-1]
        log.info("statements_progress", month=month.text, last_patient_id=after, **counts)
    level = log.error if counts["failed"] else log.info
    level("statements_completed", month=month.text, **counts)
    return counts
