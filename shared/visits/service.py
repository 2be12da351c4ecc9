"""Visits: planning, check-in and check-out with evidence, cancellation, review, and the home
(NFC tags, location). API.md "Visits".

Who may do what (shared.auth.authorization, plus shared.visits.access):
- plan a visit, register the home's tags and location (PLAN_VISITS): the owning guardian and
  operators;
- read visits (READ_CARE): the owning guardian, a caregiver of an active matching, operators;
- check in and out (RECORD_VISIT): only the visit's own caregiver, while their matching is
  active (another caregiver of the same patient gets the same 404 as a stranger);
- cancel a planned visit: its caregiver (RECORD_VISIT) or the guardian or an operator
  (PLAN_VISITS);
- review a visit recorded by hand (REVIEW_VISITS): operators.

The server's time (the transaction's `now()`) is the record of a check-in or check-out; the
phone's `device_time` is kept beside it in `visit_evidence`. Evidence rules and time windows are
pure functions (shared.visits.evidence). Raw tag uids are shown to the guardian and operators
only: a caregiver sees the tag's id and label, so a registered uid cannot be read off the API and
written onto another tag.

Events published to the guardian (shared.notifications.outbox.publish, in this transaction):
VISIT_CHECK_IN, VISIT_CHECK_OUT (with the summary), and VISIT_CANCELLED (guardian and operators)
when a caregiver cancels less than 24 hours before the planned start.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from models.common import Page
from models.dates import KOREA
from models.visits import (
    AdminVisitsQuery,
    CheckIn,
    CheckOut,
    EvidenceOut,
    HomeLocation,
    HomeLocationOut,
    HomeTag,
    HomeTagCreate,
    HomeTagsQuery,
    Visit,
    VisitCancel,
    VisitPlan,
    VisitReview,
    VisitsQuery,
)
from models.vocabularies import EvidenceMethod, NotificationEvent, Role, VisitPhase, VisitStatus
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, require_role
from shared.config import get_settings
from shared.db import Cursor
from shared.errors import AppError, ConflictError, NotFoundError
from shared.errors import body_field_error as _field
from shared.notifications.outbox import Notice, publish
from shared.patients import repository as patients_repo
from shared.unit_of_work import UnitOfWork
from shared.visits import checklist, evidence
from shared.visits import repository as repo
from shared.visits.access import VisitRef, visit_access
from shared.visits.evidence import AcceptedEvidence, GpsFix, GpsRules, RegisteredTag
from shared.visits.repository import EvidenceRow, VisitRow

#: A caregiver's cancellation closer than this to the planned start alerts the family.
SHORT_NOTICE = timedelta(hours=24)


class VisitNotOpenError(AppError):
    """The visit's status does not allow this (409)."""

    status, code, title = 409, "visit_not_open", "Conflict"


class CaregiverBusyError(AppError):
    """The caregiver is already in another visit (409)."""

    status, code, title = 409, "visit_in_progress", "Conflict"


# -- planning and reading --------------------------------------------------------------------


def plan_visit(uow: UnitOfWork, patient_id: int, body: VisitPlan) -> Visit:
    """A visit of one of the patient's schedules, served by an active matching."""
    uow.authorize(patient_id, PatientAction.PLAN_VISITS)
    cur = uow.cursor
    patients_repo.lock_patient(cur, patient_id, profile_changed=False)
    schedule = repo.schedule_facts(cur, body.schedule_id)
    if schedule is None or schedule["patient_id"] != patient_id:
        raise _field("schedule_id", "is not a schedule of this patient")
    if schedule["status"] in ("cancelled", "draft"):
        raise _field("schedule_id", f"the schedule is {schedule['status']}; plan on a live one")
    if body.planned_start.astimezone(KOREA).date() != schedule["schedule_date"]:
        raise _field(
            "planned_start",
            f"must be on the schedule's date, {schedule['schedule_date'].isoformat()} (Korea)",
        )
    matchings = repo.active_matchings(cur, patient_id)
    if body.matching_id is not None:
        chosen = [m for m in matchings if m["matching_id"] == body.matching_id]
        if not chosen:
            raise _field("matching_id", "is not an active matching of this patient")
    elif not matchings:
        raise _field("matching_id", "the patient has no active matching")
    elif len(matchings) > 1:
        raise _field("matching_id", "the patient has several active matchings: name one")
    else:
        chosen = matchings
    visit_id = repo.insert_visit(
        cur,
        schedule_id=body.schedule_id,
        patient_id=patient_id,
        matching=chosen[0],
        planned_start=body.planned_start,
        planned_end=body.planned_end,
        planned_by=uow.principal.user_id,
    )
    uow.audit(AuditAction.CREATE, "visit", patient_id=patient_id, resource_id=visit_id)
    return _visit(uow, visit_id)


def list_visits(uow: UnitOfWork, patient_id: int, query: VisitsQuery) -> Page[Visit]:
    uow.authorize(patient_id, PatientAction.READ_CARE)
    rows, total = repo.patient_visits(
        uow.cursor,
        patient_id,
        first=query.from_,
        last=query.to,
        status=query.status.value if query.status else None,
        limit=query.limit,
        offset=query.offset,
    )
    visits = _with_evidence(uow, rows)
    uow.audit_many(
        AuditAction.VIEW,
        "visit",
        [(v.patient_id, v.visit_id) for v in visits] or [(patient_id, None)],
    )
    return Page[Visit](items=visits, total=total)


def get_visit(uow: UnitOfWork, visit_id: int) -> Visit:
    ref = visit_access(uow, visit_id, PatientAction.READ_CARE)
    uow.audit(AuditAction.VIEW, "visit", patient_id=ref.patient_id, resource_id=visit_id)
    return _visit(uow, visit_id)


def review_queue(uow: UnitOfWork, query: AdminVisitsQuery) -> Page[Visit]:
    """Every patient's visits for operators (`needs_review=true`: the ones to review)."""
    require_role(uow.principal, Role.ADMIN)
    rows, total = repo.review_queue(
        uow.cursor,
        needs_review=query.needs_review,
        status=query.status.value if query.status else None,
        limit=query.limit,
        offset=query.offset,
    )
    visits = _with_evidence(uow, rows)
    if visits:
        uow.audit_many(AuditAction.VIEW, "visit", [(v.patient_id, v.visit_id) for v in visits])
    return Page[Visit](items=visits, total=total)


# -- check-in and check-out ------------------------------------------------------------------


def check_in(uow: UnitOfWork, visit_id: int, body: CheckIn) -> Visit:
    """Start the visit: the caregiver is shown to be in the home (module docstring)."""
    ref = visit_access(uow, visit_id, PatientAction.RECORD_VISIT, for_update=True)
    cur = uow.cursor
    if ref.status is not VisitStatus.PLANNED:
        raise VisitNotOpenError(_not_open(ref.status, "checked into"))
    now = repo.server_now(cur)
    settings = get_settings()
    evidence.check_in_allowed(
        now, ref.planned_start, timedelta(minutes=settings.visit_check_in_early_minutes)
    )
    repo.lock_caregiver(cur, ref.caregiver_id)
    busy = repo.visit_in_progress_of(cur, ref.caregiver_id)
    if busy is not None:
        raise CaregiverBusyError(
            f"You are still checked in to visit {busy}; check out of it before starting another."
        )
    accepted = _evidence(cur, ref, body)
    repo.insert_evidence(
        cur, visit_id, VisitPhase.CHECK_IN.value, accepted, recorded_at=now,
        device_time=body.device_time,
    )  # fmt: skip
    repo.start_visit(cur, visit_id, at=now, needs_review=accepted.needs_review)
    visit = _visit(uow, visit_id)
    publish(uow, _notice(NotificationEvent.VISIT_CHECK_IN, visit, method=accepted.method))
    uow.audit(
        AuditAction.UPDATE,
        "visit",
        patient_id=ref.patient_id,
        resource_id=visit_id,
        detail={"phase": "check_in", "method": accepted.method.value},
    )
    return visit


def check_out(uow: UnitOfWork, visit_id: int, body: CheckOut) -> Visit:
    """End the visit, with its summary and changes of condition; the visit is then locked."""
    ref = visit_access(uow, visit_id, PatientAction.RECORD_VISIT, for_update=True)
    cur = uow.cursor
    if ref.status is not VisitStatus.IN_PROGRESS or ref.check_in_at is None:
        raise VisitNotOpenError(_not_open(ref.status, "checked out of"))
    now = repo.server_now(cur)
    evidence.check_out_allowed(now, ref.check_in_at)
    accepted = _evidence(cur, ref, body)
    checklist.require_complete(uow, ref)
    repo.insert_evidence(
        cur, visit_id, VisitPhase.CHECK_OUT.value, accepted, recorded_at=now,
        device_time=body.device_time,
    )  # fmt: skip
    repo.complete_visit(
        cur,
        visit_id,
        at=now,
        needs_review=accepted.needs_review,
        summary=body.summary,
        condition_notes=body.condition_notes.given() if body.condition_notes else {},
    )
    visit = _visit(uow, visit_id)
    publish(
        uow,
        _notice(
            NotificationEvent.VISIT_CHECK_OUT,
            visit,
            method=accepted.method,
            summary=visit.summary,
            minutes=_minutes(visit),
        ),
    )
    uow.audit(
        AuditAction.UPDATE,
        "visit",
        patient_id=ref.patient_id,
        resource_id=visit_id,
        detail={"phase": "check_out", "method": accepted.method.value},
    )
    return visit


def _evidence(cur: Cursor, ref: VisitRef, body: CheckIn) -> AcceptedEvidence:
    """The body's evidence judged by the rules of shared.visits.evidence."""
    if body.method is EvidenceMethod.NFC_TAG:
        assert body.tag_uid is not None  # the model requires it with this method
        row = repo.tag_by_uid(cur, body.tag_uid)
        tag = (
            RegisteredTag(row["tag_id"], row["patient_id"], row["active"], row["label"])
            if row
            else None
        )
        return evidence.nfc_evidence(tag, ref.patient_id)
    if body.method is EvidenceMethod.GPS:
        assert body.latitude is not None
        assert body.longitude is not None
        assert body.accuracy_m is not None
        settings = get_settings()
        return evidence.gps_evidence(
            repo.home_location(cur, ref.patient_id),
            GpsFix(body.latitude, body.longitude, body.accuracy_m),
            GpsRules(settings.visit_gps_radius_m, settings.visit_gps_max_accuracy_m),
        )
    return evidence.manual_evidence(body.reason)


# -- cancel and review -----------------------------------------------------------------------


def cancel_visit(uow: UnitOfWork, visit_id: int, body: VisitCancel) -> Visit:
    """Cancel a planned visit: its caregiver, the guardian or an operator."""
    caregiver = uow.principal.role == Role.CAREGIVER
    action = PatientAction.RECORD_VISIT if caregiver else PatientAction.PLAN_VISITS
    ref = visit_access(uow, visit_id, action, for_update=True)
    cur = uow.cursor
    if ref.status is not VisitStatus.PLANNED:
        raise VisitNotOpenError(_not_open(ref.status, "cancelled"))
    repo.cancel_visit(cur, visit_id, by=uow.principal.user_id, reason=body.reason)
    visit = _visit(uow, visit_id)
    short_notice = visit.cancelled_at is not None and (
        ref.planned_start - visit.cancelled_at < SHORT_NOTICE
    )
    if caregiver and short_notice:
        publish(
            uow,
            _notice(
                NotificationEvent.VISIT_CANCELLED,
                visit,
                to_operators=True,
                reason=body.reason,
                by="caregiver",
            ),
        )
    uow.audit(
        AuditAction.UPDATE,
        "visit",
        patient_id=ref.patient_id,
        resource_id=visit_id,
        detail={"status": "cancelled", "by": str(uow.principal.role)},
    )
    return visit


def review_visit(uow: UnitOfWork, visit_id: int, body: VisitReview) -> Visit:
    """An operator marks a visit recorded by hand as reviewed."""
    ref = visit_access(uow, visit_id, PatientAction.REVIEW_VISITS, for_update=True)
    cur = uow.cursor
    needs_review, reviewed_at = repo.review_state(cur, visit_id)
    if not needs_review:
        raise ConflictError("This visit was not flagged for review.")
    if reviewed_at is not None:
        raise ConflictError(f"This visit was already reviewed at {reviewed_at.isoformat()}.")
    repo.mark_reviewed(cur, visit_id, by=uow.principal.user_id)
    uow.audit(
        AuditAction.UPDATE,
        "visit",
        patient_id=ref.patient_id,
        resource_id=visit_id,
        # The review's note is the operator's own words about the check, kept with the event
        # of the review (the visits table has no column for it).
        detail={"reviewed": True, "note": body.note},
    )
    return _visit(uow, visit_id)


# -- the home --------------------------------------------------------------------------------


def add_home_tag(uow: UnitOfWork, patient_id: int, body: HomeTagCreate) -> HomeTag:
    """Register an NFC tag to the patient's home; 409 if the uid is active in any home."""
    uow.authorize(patient_id, PatientAction.PLAN_VISITS)
    cur = uow.cursor
    patients_repo.lock_patient(cur, patient_id, profile_changed=False)
    existing = repo.tag_by_uid(cur, body.tag_uid)
    if existing is not None and existing["active"]:
        if existing["patient_id"] == patient_id:
            raise ConflictError(
                f"This tag is already registered to this home (tag {existing['tag_id']})."
            )
        raise ConflictError(
            "This NFC tag is active in another home; it must be removed there first."
        )
    row = repo.insert_tag(cur, patient_id, body.tag_uid, body.label, uow.principal.user_id)
    uow.audit(AuditAction.CREATE, "home_tag", patient_id=patient_id, resource_id=row["tag_id"])
    return HomeTag.model_validate(row)


def list_home_tags(uow: UnitOfWork, patient_id: int, query: HomeTagsQuery) -> Page[HomeTag]:
    uow.authorize(patient_id, PatientAction.PLAN_VISITS)
    rows, total = repo.patient_tags(
        uow.cursor, patient_id, active=query.active, limit=query.limit, offset=query.offset
    )
    uow.audit_many(
        AuditAction.VIEW,
        "home_tag",
        [(patient_id, row["tag_id"]) for row in rows] or [(patient_id, None)],
    )
    return Page[HomeTag](items=[HomeTag.model_validate(r) for r in rows], total=total)


def remove_home_tag(uow: UnitOfWork, patient_id: int, tag_id: int) -> None:
    """Deactivate a tag (its past evidence keeps pointing at it)."""
    uow.authorize(patient_id, PatientAction.PLAN_VISITS)
    if not repo.deactivate_tag(uow.cursor, patient_id, tag_id):
        raise NotFoundError("No such tag in this patient's home.")
    uow.audit(AuditAction.DELETE, "home_tag", patient_id=patient_id, resource_id=tag_id)


def set_home_location(uow: UnitOfWork, patient_id: int, body: HomeLocation) -> HomeLocationOut:
    uow.authorize(patient_id, PatientAction.PLAN_VISITS)
    cur = uow.cursor
    repo.set_home_location(cur, patient_id, body.latitude, body.longitude)
    uow.audit(
        AuditAction.UPDATE,
        "patient",
        patient_id=patient_id,
        resource_id=patient_id,
        detail={"fields": ["home_latitude", "home_longitude"]},
    )
    location = repo.home_location(cur, patient_id)
    assert location is not None
    return HomeLocationOut(patient_id=patient_id, latitude=location[0], longitude=location[1])


# -- shaping ---------------------------------------------------------------------------------


def _visit(uow: UnitOfWork, visit_id: int) -> Visit:
    row = repo.get_visit(uow.cursor, visit_id)
    if row is None:  # pragma: no cover - read in the transaction that authorised it
        raise NotFoundError("No such visit, or it is not in your care.")
    return _with_evidence(uow, [row])[0]


def _with_evidence(uow: UnitOfWork, rows: list[VisitRow]) -> list[Visit]:
    """Visits with their evidence (one query for all); tag uids hidden from caregivers."""
    shows_uid = uow.principal.role != Role.CAREGIVER
    found: dict[int, list[EvidenceOut]] = defaultdict(list)
    for ev in repo.evidence_of(uow.cursor, [row["visit_id"] for row in rows]):
        found[ev["visit_id"]].append(_evidence_out(ev, shows_uid=shows_uid))
    return [
        Visit.model_validate(
            {
                **row,
                "status_label": VisitStatus(row["status"]).label,
                "evidence": found[row["visit_id"]],
            }
        )
        for row in rows
    ]


def _evidence_out(row: EvidenceRow, *, shows_uid: bool) -> EvidenceOut:
    data: dict[str, Any] = dict(row)
    data["phase_label"] = VisitPhase(row["phase"]).label
    data["method_label"] = EvidenceMethod(row["method"]).label
    if not shows_uid:
        data["tag_uid"] = None
    for key in ("latitude", "longitude", "accuracy_m", "distance_m"):
        if data[key] is not None:
            data[key] = float(data[key])
    return EvidenceOut.model_validate(data)


def _notice(
    event: NotificationEvent,
    visit: Visit,
    *,
    method: EvidenceMethod | None = None,
    to_operators: bool = False,
    **extra: Any,
) -> Notice:
    data: dict[str, Any] = {
        "visit_id": visit.visit_id,
        "caregiver_name": visit.caregiver_name,
        "planned_start": visit.planned_start.isoformat(),
        "planned_end": visit.planned_end.isoformat(),
        "check_in_at": _iso(visit.check_in_at),
        "check_out_at": _iso(visit.check_out_at),
        **extra,
    }
    if method is not None:
        data["method"] = method.value
    phase = event.value.removeprefix("visit_")
    return Notice(
        event,
        key=f"visit:{visit.visit_id}:{phase}",
        patient_id=visit.patient_id,
        data=data,
        to_guardian=True,
        to_operators=to_operators,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _minutes(visit: Visit) -> int | None:
    if visit.check_in_at is None or visit.check_out_at is None:
        return None
    return int((visit.check_out_at - visit.check_in_at).total_seconds() // 60)


def _not_open(status: VisitStatus, what: str) -> str:
    return f"This visit is {status.value} ({status.label}) and cannot be {what}."
