"""Matching: rank caregivers for a guardian's request, and run the matching's lifecycle.

A request goes: authorise (the owning guardian) -> hard filters in SQL (counts per filter) ->
features for the survivors (numpy) -> the serving model's scores (XGBoost, or the rule scorer)
-> top_k with Korean reasons -> the request and its results stored in the same transaction.
"""

from __future__ import annotations

from typing import Any

import psycopg2.errors

from models.matching import (
    MatchingRequestIn,
    MatchingResponse,
    MatchTransition,
    ModelInfo,
    Offer,
    OfferList,
    PatientSummary,
)
from models.vocabularies import Role, grade_for
from shared import audit
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, authorize_patient, require_role
from shared.auth.principal import Actor
from shared.caregivers.repository import caregiver_cards, caregiver_id_for_user
from shared.db import Database
from shared.errors import ConflictError, ForbiddenError, NotFoundError
from shared.matching import filters, repository
from shared.matching.lifecycle import TRANSITIONS, describe_refusal
from shared.observability import get_logger
from shared.patients.repository import get_patient_summaries

log = get_logger("matching")


def create_request(
    db: Database, actor: Actor, patient_id: int, body: MatchingRequestIn
) -> MatchingResponse:
    """Rank caregivers for the patient and store the request with its top results."""
    from shared.matching.ranking import rank_candidates

    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        patient = repository.patient_profile(cur, patient_id)
        if patient is None:  # deleted between the check and now
            raise NotFoundError("No such patient, or it is not in your care.")
        outcome = filters.run_hard_filters(cur, _filter_input(body, patient["region_code"]))
        ranked = rank_candidates(cur, patient, body, outcome.survivors)
        request_id = repository.insert_request(
            cur,
            patient_id=patient_id,
            requested_by=actor.user_id,
            body=body,
            model_kind=ranked.model_kind,
            model_version=ranked.model_version,
            considered=outcome.considered,
            excluded=outcome.excluded,
        )
        rows = [
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
        audit.record(
            cur,
            actor,
            AuditAction.CREATE,
            patient_id=patient_id,
            resource_type="matching_request",
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
            {
                "matching_id": matching_id,
                "request_id": request_id,
                "caregiver": cards[row["caregiver_id"]],
                "score": row["score"],
                "grade": row["grade"],
                "reasons": row["reasons"],
                "status": "recommended",
            }
            for matching_id, row in zip(matching_ids, rows, strict=True)
        ],
    )


def list_results(
    db: Database, actor: Actor, patient_id: int, *, status: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """A patient's matching results (owning guardian, admins), newest request first."""
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.READ_MATCHING)
        rows, total = repository.list_results(
            cur, patient_id, status=status, limit=limit, offset=offset
        )
        cards = caregiver_cards(cur, [row["caregiver_id"] for row in rows])
        audit.record(
            cur,
            actor,
            AuditAction.VIEW,
            patient_id=patient_id,
            resource_type="matching_results",
            detail={"count": len(rows)},
        )
    items = [
        {
            "matching_id": row["matching_id"],
            "request_id": row["request_id"],
            "caregiver": cards[row["caregiver_id"]],
            "score": row["score"],
            "grade": row["grade"],
            "reasons": row["reasons"],
            "status": row["status"],
        }
        for row in rows
    ]
    return {"items": items, "total": total}


def transition(db: Database, actor: Actor, matching_id: int, action: str) -> MatchTransition:
    """select / accept / decline / complete / cancel, as the transition table allows."""
    step = TRANSITIONS[action]
    if actor.role not in step.roles:
        allowed = " or ".join(sorted(str(r) for r in step.roles))
        raise ForbiddenError(f"Only the {allowed} of a matching may {action} it.")
    try:
        with db.transaction() as cur:
            matching = repository.lock_matching(cur, matching_id)
            _check_party(cur, actor, matching)
            if matching["status"] not in step.sources:
                raise ConflictError(describe_refusal(step, matching["status"]))
            if action == "select" and repository.request_has_selection(cur, matching["request_id"]):
                raise ConflictError("This request already has a selected or active caregiver.")
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
            audit.record(
                cur,
                actor,
                AuditAction.UPDATE,
                patient_id=matching["patient_id"],
                resource_type="matching",
                resource_id=matching_id,
                detail={"action": action, "from": matching["status"], "to": str(step.target)},
            )
    except psycopg2.errors.UniqueViolation:
        # The partial unique index: another selection of the same request committed first.
        raise ConflictError("This request already has a selected or active caregiver.") from None
    log.info("matching_transition", matching_id=matching_id, action=action)
    return MatchTransition.model_validate(updated)


def offers(db: Database, actor: Actor) -> OfferList:
    """Selected matchings waiting for this caregiver, with identity-free patient summaries."""
    require_role(actor.principal, Role.CAREGIVER)
    with db.transaction() as cur:
        caregiver_id = caregiver_id_for_user(cur, actor.user_id)
        rows = [] if caregiver_id is None else repository.offers_for(cur, caregiver_id)
        summaries = get_patient_summaries(cur, [row["patient_id"] for row in rows])
        audit.record_many(
            cur,
            actor,
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


def _check_party(cur: Any, actor: Actor, matching: dict[str, Any] | None) -> None:
    """404 unless the actor is this matching's guardian (owner) or caregiver."""
    if matching is None:
        raise NotFoundError("No such matching, or it is not yours.")
    if actor.role == Role.GUARDIAN:
        authorize_patient(cur, actor.principal, matching["patient_id"], PatientAction.MANAGE)
    elif matching["caregiver_user_id"] != actor.user_id:
        raise NotFoundError("No such matching, or it is not yours.")


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


def _filter_input_from_row(row: dict[str, Any]) -> filters.FilterInput:
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


def _summary(card: dict[str, Any]) -> PatientSummary:
    """The patients area's offer card, with condition codes only."""
    return PatientSummary.model_validate(
        {**card, "conditions": [c["code"] for c in card["conditions"]]}
    )
