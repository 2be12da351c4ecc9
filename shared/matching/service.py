"""Matching: rank caregivers for a guardian's request, and run the matching's lifecycle.

A request goes: authorise (the owning guardian) -> count it against the caller's hourly
allowance (shared.rate_limits, in a transaction of its own, committed; 429 over it) -> hard
filters in SQL (counts per filter) -> features for the survivors (numpy) -> the serving model's
scores (XGBoost, or the rule scorer) -> top_k with Korean reasons -> the request and its
results stored in one transaction, which authorises again.

Every function takes the request's unit of work (shared.unit_of_work): authorisation
(`uow.authorize`), SQL (`uow.cursor`) and the audit event (`uow.audit`) share its transaction,
which its owner commits. Integrity errors are translated there, by the meanings the repository
registers (a concurrent second selection of one request is the same 409 as the check here).
"""

from __future__ import annotations

from models.common import Page
from models.dates import korea_today
from models.matching import (
    Match,
    MatchingRequestIn,
    MatchingResponse,
    MatchTransition,
    ModelInfo,
    Offer,
    OfferList,
    PatientSummary,
)
from models.vocabularies import Role, grade_for
from shared import rate_limits
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, require_role
from shared.caregivers.repository import CaregiverCardRow, caregiver_cards, caregiver_id_for_user
from shared.db import Cursor
from shared.errors import ConflictError, ForbiddenError, NotFoundError
from shared.matching import filters, repository
from shared.matching.lifecycle import TRANSITIONS, completion_refusal, describe_refusal
from shared.observability import get_logger
from shared.patients import repository as patients_repo
from shared.rate_limits import LimitedAction
from shared.unit_of_work import UnitOfWork

log = get_logger("matching")


def create_request(uow: UnitOfWork, patient_id: int, body: MatchingRequestIn) -> MatchingResponse:
    """Rank caregivers for the patient and store the request with its top results."""
    from shared.matching.history import care_history
    from shared.matching.ranking import rank_candidates

    uow.read_only()
    uow.authorize(patient_id, PatientAction.MANAGE)
    uow.commit()
    # Counted in its own committed transaction before any filtering or scoring: a request over
    # the caller's hourly allowance is 429 and runs nothing (shared.rate_limits).
    rate_limits.charge(uow, LimitedAction.MATCHING_REQUEST)
    uow.authorize(patient_id, PatientAction.MANAGE)  # again: a new transaction
    cur = uow.cursor
    patient = repository.patient_profile(cur, patient_id)
    if patient is None:  # deleted between the check and now
        raise NotFoundError("No such patient, or it is not in your care.")
    outcome = filters.run_hard_filters(cur, _filter_input(body, patient["region_code"]))
    history = care_history(cur, patient_id, outcome.candidates.caregiver_id)
    ranked = rank_candidates(patient, body, outcome, history)
    request_id = repository.insert_request(
        cur,
        patient_id=patient_id,
        requested_by=uow.principal.user_id,
        body=body,
        model_kind=ranked.model_kind,
        model_version=ranked.model_version,
        considered=outcome.considered,
        excluded=outcome.excluded,
    )
    rows: list[repository.NewResult] = [
        {
            "caregiver_id": choice.caregiver_id,
            "rank": position,
            "score": choice.score,
            "grade": str(grade_for(choice.score)),
            "reasons": choice.reasons,
        }
        for position, choice in enumerate(ranked.top, start=1)
    ]
    matching_ids = repository.insert_results(cur, request_id, patient_id, rows)
    cards = caregiver_cards(cur, [row["caregiver_id"] for row in rows])
    uow.audit(
        AuditAction.CREATE,
        "matching_request",
        patient_id=patient_id,
        resource_id=request_id,
        detail={"results": len(rows), "model": ranked.model_kind},
    )
    log.info(
        "matching_request_ranked",
        request_id=request_id,
        considered=outcome.considered,
        survivors=len(outcome.survivors),
        model_kind=ranked.model_kind,
    )
    return MatchingResponse(
        request_id=request_id,
        patient_id=patient_id,
        model=ModelInfo(kind=ranked.model_kind, version=ranked.model_version),
        candidates_considered=outcome.considered,
        excluded=outcome.excluded,
        results=[
            _match(
                matching_id,
                request_id,
                cards[row["caregiver_id"]],
                row["score"],
                row["grade"],
                row["reasons"],
                "recommended",
            )
            for matching_id, row in zip(matching_ids, rows, strict=True)
        ],
    )


def list_results(
    uow: UnitOfWork, patient_id: int, *, status: str | None, limit: int, offset: int
) -> Page[Match]:
    """A patient's matching results (owning guardian, admins), newest request first."""
    uow.authorize(patient_id, PatientAction.READ_MATCHING)
    rows, total = repository.list_results(
        uow.cursor, patient_id, status=status, limit=limit, offset=offset
    )
    cards = caregiver_cards(uow.cursor, [row["caregiver_id"] for row in rows])
    uow.audit(
        AuditAction.VIEW,
        "matching_results",
        patient_id=patient_id,
        detail={"count": len(rows)},
    )
    items = [
        _match(
            row["matching_id"],
            row["request_id"],
            cards[row["caregiver_id"]],
            row["score"],
            row["grade"],
            row["reasons"],
            row["status"],
        )
        for row in rows
    ]
    return Page[Match](items=items, total=total)


def transition(uow: UnitOfWork, matching_id: int, action: str) -> MatchTransition:
    """select / accept / decline / complete / cancel, as the transition table allows.

    Two selections of one request racing each other: the partial unique index refuses the
    second, and its registered meaning (repository.ALREADY_SELECTED) is the same 409."""
    step = TRANSITIONS[action]
    if uow.principal.role not in step.roles:
        allowed = " or ".join(sorted(str(r) for r in step.roles))
        raise ForbiddenError(f"Only the {allowed} of a matching may {action} it.")
    cur = uow.cursor
    matching = _check_party(uow, repository.lock_matching(cur, matching_id))
    if matching["status"] not in step.sources:
        raise ConflictError(describe_refusal(step, matching["status"]))
    if action == "select" and repository.request_has_selection(cur, matching["request_id"]):
        raise ConflictError(repository.ALREADY_SELECTED)
    if action == "complete":
        _check_care_happened(cur, matching)
    if action == "accept":
        repository.lock_caregiver(cur, matching["caregiver_id"])
        request = _filter_input_from_row(matching)
        if filters.is_booked(cur, matching["caregiver_id"], request):
            raise ConflictError(
                "You already have an active matching at these dates, days and times."
            )
    updated = repository.set_status(
        cur, matching_id, str(step.target), set_contract=action == "accept"
    )
    uow.audit(
        AuditAction.UPDATE,
        "matching",
        patient_id=matching["patient_id"],
        resource_id=matching_id,
        detail={"action": action, "from": matching["status"], "to": str(step.target)},
    )
    log.info("matching_transition", matching_id=matching_id, action=action)
    return MatchTransition.model_validate(updated)


def _check_care_happened(cur: Cursor, matching: repository.LockedMatchingRow) -> None:
    """409 unless the contract has started and care was recorded since (lifecycle's rule)."""
    today = korea_today()
    start, end = matching["contract_start_date"], matching["contract_end_date"]
    last = today if end is None else min(end, today)
    cared = (
        start is not None
        and start <= today
        and repository.care_completed_between(cur, matching["patient_id"], start, last)
    )
    refusal = completion_refusal(start, today, cared)
    if refusal is not None:
        raise ConflictError(refusal)


def offers(uow: UnitOfWork) -> OfferList:
    """Selected matchings waiting for this caregiver, with identity-free patient summaries."""
    require_role(uow.principal, Role.CAREGIVER)
    cur = uow.cursor
    caregiver_id = caregiver_id_for_user(cur, uow.principal.user_id)
    rows = [] if caregiver_id is None else repository.offers_for(cur, caregiver_id)
    summaries = patients_repo.get_patient_summaries(cur, [row["patient_id"] for row in rows])
    uow.audit_many(
        AuditAction.VIEW,
        "offer_summary",
        [(row["patient_id"], row["matching_id"]) for row in rows],
    )
    return OfferList(
        items=[
            Offer(
                matching_id=row["matching_id"],
                request_id=row["request_id"],
                days=row["days"],
                time_slots=row["time_slots"],
                start_date=row["start_date"],
                end_date=row["end_date"],
                patient=_summary(summaries[row["patient_id"]]),
            )
            for row in rows
        ]
    )


def _check_party(
    uow: UnitOfWork, matching: repository.LockedMatchingRow | None
) -> repository.LockedMatchingRow:
    """The matching, or 404 unless the caller is its guardian (owner) or caregiver."""
    if matching is None:
        raise NotFoundError("No such matching, or it is not yours.")
    if uow.principal.role == Role.GUARDIAN:
        uow.authorize(matching["patient_id"], PatientAction.MANAGE)
    elif matching["caregiver_user_id"] != uow.principal.user_id:
        raise NotFoundError("No such matching, or it is not yours.")
    return matching


def _match(
    matching_id: int,
    request_id: int,
    card: CaregiverCardRow,
    score: float,
    grade: str,
    reasons: list[str],
    status: str,
) -> Match:
    return Match.model_validate(
        {
            "matching_id": matching_id,
            "request_id": request_id,
            "caregiver": card,
            "score": score,
            "grade": grade,
            "reasons": reasons,
            "status": status,
        }
    )


def _filter_input(body: MatchingRequestIn, patient_region: str) -> filters.FilterInput:
    return filters.FilterInput(
        care_type=str(body.care_type),
        patient_region=patient_region,
        days=tuple(str(d) for d in body.days),
        time_slots=tuple((s.start, s.end) for s in body.time_slots),
        start_date=body.start_date,
        end_date=body.end_date,
        gender_preference=str(body.gender_preference),
        min_experience_years=body.min_experience_years,
        required_specialties=tuple(str(s) for s in body.required_specialties),
        max_hourly_rate=body.max_hourly_rate,
    )


def _filter_input_from_row(row: repository.LockedMatchingRow) -> filters.FilterInput:
    return filters.FilterInput(
        care_type=row["care_type"],
        patient_region=row["region_code"],
        days=tuple(row["days"]),
        time_slots=tuple((s["start"], s["end"]) for s in row["time_slots"]),
        start_date=row["start_date"],
        end_date=row["end_date"],
        gender_preference=row["gender_preference"],
        min_experience_years=row["min_experience_years"],
        required_specialties=tuple(row["required_specialties"]),
        max_hourly_rate=row["max_hourly_rate"],
    )


def _summary(card: patients_repo.PatientSummary) -> PatientSummary:
    """The patients area's offer card, with condition codes only."""
    return PatientSummary.model_validate(
        {**card, "conditions": [c["code"] for c in card["conditions"]]}
    )
