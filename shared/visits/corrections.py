"""Corrections of a visit's recorded times: proposed by the caregiver with a reason code,
approved or rejected by the guardian or an operator, each step audited.

Which visits may be corrected (else 409 `visit_not_correctable`):
- a checked-out visit (`completed`: locked at check-out; only a correction changes its times);
- a visit the caregiver forgot to check out of: still `in_progress` after its planned end. The
  correction proposes `check_out_at` (the visit has none yet) and, standing in for the
  check-out, needs the checklist complete as check-out does (422 `checklist_incomplete`; the
  tasks can still be recorded, the visit being in progress); approving it completes and locks
  the visit;
- a `missed` visit the caregiver did serve but never checked into: the correction proposes both
  times; approving it completes and locks the visit (its `missed_at` stays as history).
A planned or cancelled visit, or an in-progress one before its planned end (check out instead),
cannot be corrected. Nor can a visit planned to start more than `VISIT_CORRECTION_WINDOW_DAYS`
(30) days ago, when proposing or when deciding.

The times that would result (the proposed ones, else the visit's) must be complete (a check-in
and a check-out), in order, at most 24 hours apart, not in the future (422 naming the field),
and must not overlap another visit of the same caregiver (409 `visit_overlap`); checked when
proposing and again when approving (another visit may have been recorded in between),
under the caregiver's row lock so two decisions at once cannot both commit an overlap.

One pending correction per visit (409). Proposing publishes CORRECTION_PENDING to the guardian
and operators (shared.notifications.outbox, in this transaction). Approving keeps the visit's
previous times on the correction (`previous_check_in_at`, `previous_check_out_at`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.common import Page
from models.visit_details import Correction, CorrectionCreate, CorrectionDecision, CorrectionsQuery
from models.visits import MAX_VISIT_HOURS
from models.vocabularies import CorrectionReason, CorrectionStatus, NotificationEvent, VisitStatus
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.config import get_settings
from shared.errors import AppError, NotFoundError
from shared.errors import body_field_error as _field
from shared.notifications.outbox import Notice, publish
from shared.visits import checklist
from shared.visits import details_repository as repo
from shared.visits import repository as visits_repo
from shared.visits.access import VisitRef, visit_access

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork
    from shared.visits.details_repository import CorrectionRow


class NotCorrectableError(AppError):
    """The visit cannot be corrected now (409)."""

    status, code, title = 409, "visit_not_correctable", "Conflict"


class CorrectionDecidedError(AppError):
    """The correction was already approved or rejected (409)."""

    status, code, title = 409, "correction_decided", "Conflict"


class VisitOverlapError(AppError):
    """The corrected times would overlap another visit of the caregiver (409)."""

    status, code, title = 409, "visit_overlap", "Conflict"


def propose(uow: UnitOfWork, visit_id: int, body: CorrectionCreate) -> Correction:
    """The caregiver's proposal (module docstring for which visits and which times)."""
    visit = visit_access(uow, visit_id, PatientAction.RECORD_VISIT, for_update=True)
    cur = uow.cursor
    now = repo.server_now(cur)
    _correctable(visit, now)
    check_in, check_out = _resulting_times(
        visit, body.check_in_at, body.check_out_at, now, proposing=True
    )
    if visit.status is VisitStatus.IN_PROGRESS:  # the correction stands in for the check-out
        checklist.require_complete(uow, visit)
    _no_overlap(uow, visit, check_in, check_out)
    row = repo.insert_correction(
        cur,
        visit_id=visit.visit_id,
        patient_id=visit.patient_id,
        user_id=uow.principal.user_id,
        reason_code=body.reason_code.value,
        reason_text=body.reason_text,
        check_in_at=body.check_in_at,
        check_out_at=body.check_out_at,
    )
    correction = _correction(row)
    publish(
        uow,
        Notice(
            NotificationEvent.CORRECTION_PENDING,
            key=f"correction:{correction.correction_id}",
            patient_id=visit.patient_id,
            data={
                "correction_id": correction.correction_id,
                "visit_id": visit.visit_id,
                "reason_code": correction.reason_code.value,
                "reason_label": correction.reason_label,
                "planned_start": visit.planned_start.isoformat(),
                "check_in_at": _iso(visit.check_in_at),
                "check_out_at": _iso(visit.check_out_at),
                "proposed_check_in_at": _iso(correction.proposed_check_in_at),
                "proposed_check_out_at": _iso(correction.proposed_check_out_at),
            },
            to_guardian=True,
            to_operators=True,
        ),
    )
    uow.audit(
        AuditAction.CREATE,
        "visit_correction",
        patient_id=visit.patient_id,
        resource_id=correction.correction_id,
        detail={"visit_id": visit.visit_id, "reason_code": correction.reason_code.value},
    )
    return correction


def list_for_patient(uow: UnitOfWork, patient_id: int, query: CorrectionsQuery) -> Page[Correction]:
    uow.authorize(patient_id, PatientAction.READ_CARE)
    rows, total = repo.patient_corrections(
        uow.cursor,
        patient_id,
        query.status.value if query.status else None,
        limit=query.limit,
        offset=query.offset,
    )
    if rows:
        uow.audit_many(
            AuditAction.VIEW, "visit_correction", [(patient_id, r["correction_id"]) for r in rows]
        )
    else:
        uow.audit(AuditAction.VIEW, "visit_correction", patient_id=patient_id)
    return Page[Correction](items=[_correction(r) for r in rows], total=total)


def approve(uow: UnitOfWork, correction_id: int, body: CorrectionDecision) -> Correction:
    """Apply the proposed times to the visit (guardian owner or operator)."""
    current, visit = _pending(uow, correction_id)
    cur = uow.cursor
    now = repo.server_now(cur)
    _correctable(visit, now, deciding=True)
    check_in, check_out = _resulting_times(
        visit, current["proposed_check_in_at"], current["proposed_check_out_at"], now
    )
    _no_overlap(uow, visit, check_in, check_out)
    repo.apply_times(cur, visit.visit_id, check_in, check_out)
    row = repo.decide_correction(
        cur,
        correction_id,
        status=CorrectionStatus.APPROVED.value,
        user_id=uow.principal.user_id,
        note=body.note,
        previous_check_in_at=visit.check_in_at,
        previous_check_out_at=visit.check_out_at,
    )
    uow.audit(
        AuditAction.UPDATE,
        "visit_correction",
        patient_id=visit.patient_id,
        resource_id=correction_id,
        detail={"decision": CorrectionStatus.APPROVED.value},
    )
    uow.audit(
        AuditAction.UPDATE,
        "visit",
        patient_id=visit.patient_id,
        resource_id=visit.visit_id,
        detail={"correction_id": correction_id, "fields": _changed(current)},
    )
    return _correction(row)


def reject(uow: UnitOfWork, correction_id: int, body: CorrectionDecision) -> Correction:
    """Leave the visit as recorded (guardian owner or operator)."""
    _, visit = _pending(uow, correction_id)
    row = repo.decide_correction(
        uow.cursor,
        correction_id,
        status=CorrectionStatus.REJECTED.value,
        user_id=uow.principal.user_id,
        note=body.note,
    )
    uow.audit(
        AuditAction.UPDATE,
        "visit_correction",
        patient_id=visit.patient_id,
        resource_id=correction_id,
        detail={"decision": CorrectionStatus.REJECTED.value},
    )
    return _correction(row)


# -- rules -----------------------------------------------------------------------------------


def _pending(uow: UnitOfWork, correction_id: int) -> tuple[CorrectionRow, VisitRef]:
    """The correction (locked, pending) and its visit (locked), if the caller may decide it."""
    cur = uow.cursor
    patient_id = repo.correction_patient_id(cur, correction_id)
    uow.authorize(patient_id, PatientAction.APPROVE_CORRECTION)
    if patient_id is None:  # pragma: no cover - authorize raised already
        raise NotFoundError("No such correction.")
    current = repo.get_correction(cur, correction_id, for_update=True)
    visit = visit_access(
        uow, current["visit_id"], PatientAction.APPROVE_CORRECTION, for_update=True
    )
    if current["status"] != CorrectionStatus.PENDING.value:
        status = CorrectionStatus(current["status"])
        raise CorrectionDecidedError(f"This correction is already {status.value} ({status.label}).")
    return current, visit


def _correctable(visit: VisitRef, now: datetime, *, deciding: bool = False) -> None:
    window = timedelta(days=get_settings().visit_correction_window_days)
    if now - visit.planned_start > window:
        raise NotCorrectableError(
            f"Visits planned more than {window.days} days ago cannot be corrected"
            + (" (the correction is now too old to approve)." if deciding else ".")
        )
    if visit.status is VisitStatus.COMPLETED or visit.status is VisitStatus.MISSED:
        return
    if visit.status is VisitStatus.IN_PROGRESS and now > visit.planned_end:
        return
    if visit.status is VisitStatus.IN_PROGRESS:
        raise NotCorrectableError(
            "This visit is in progress and within its planned time: check out instead."
        )
    raise NotCorrectableError(
        f"This visit is {visit.status.value} ({visit.status.label}): only a checked-out visit, "
        "a missed one, or one left checked in past its planned end can be corrected."
    )


def _resulting_times(
    visit: VisitRef,
    check_in_at: datetime | None,
    check_out_at: datetime | None,
    now: datetime,
    *,
    proposing: bool = False,
) -> tuple[datetime, datetime]:
    """The visit's times once corrected; 422 naming the field when they cannot stand."""
    check_in = check_in_at or visit.check_in_at
    check_out = check_out_at or visit.check_out_at
    if check_in is None:
        raise _field("check_in_at", "is required: the visit has no check-in")
    if check_out is None:
        raise _field("check_out_at", "is required: the visit has no check-out")
    for name, value in (("check_in_at", check_in_at), ("check_out_at", check_out_at)):
        if proposing and value is not None and value > now:
            raise _field(name, "must not be in the future")
    if check_out <= check_in:
        name = "check_out_at" if check_out_at is not None else "check_in_at"
        raise _field(name, "the visit would end before it starts")
    if check_out - check_in > timedelta(hours=MAX_VISIT_HOURS):
        name = "check_out_at" if check_out_at is not None else "check_in_at"
        raise _field(name, f"a visit lasts at most {MAX_VISIT_HOURS} hours")
    return check_in, check_out


def _no_overlap(uow: UnitOfWork, visit: VisitRef, start: datetime, end: datetime) -> None:
    """409 when [start, end) meets another visit of the caregiver. The caregiver's row is locked
    first (as check-in does), so two corrections of the caregiver's visits decided at once take
    turns and the second sees the first's times, instead of both committing an overlap."""
    visits_repo.lock_caregiver(uow.cursor, visit.caregiver_id)
    other = repo.overlapping_visit(uow.cursor, visit.caregiver_id, visit.visit_id, start, end)
    if other is not None:
        raise VisitOverlapError(
            f"The corrected times overlap visit {other} of the same caregiver: "
            "one caregiver cannot be in two visits at once."
        )


def _changed(row: CorrectionRow) -> list[str]:
    fields = [
        ("check_in_at", row["proposed_check_in_at"]),
        ("check_out_at", row["proposed_check_out_at"]),
    ]
    return [name for name, value in fields if value is not None]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _correction(row: CorrectionRow) -> Correction:
    reason = CorrectionReason(row["reason_code"])
    return Correction.model_validate({**row, "reason_label": reason.label})
