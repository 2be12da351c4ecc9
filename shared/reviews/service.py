"""Reviews (API.md "Reviews and dashboard"): a completed matching's guardian rates its caregiver,
and its caregiver may review the care relationship in return.

Each review is one transaction that row-locks the matching first, so two racing reviews by one
reviewer cannot both land (the second waits, then finds the first: 409). A guardian's review
also locks the caregiver and recomputes avg_rating and total_reviews from the reviews table, so
the counters are exact however many reviews arrive at once. A caregiver's review never changes
the caregiver's own rating.
"""

from __future__ import annotations

import psycopg2.errors

from models.common import Page
from models.reviews import PublicReview, Review, ReviewerRole, ReviewIn
from models.vocabularies import MatchingStatus, Role
from shared import audit
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, authorize_patient, require_role
from shared.auth.principal import Actor, Principal
from shared.db import Database
from shared.errors import ConflictError, NotFoundError
from shared.observability import get_logger
from shared.reviews import repository

log = get_logger("reviews")

ALREADY_REVIEWED = "You have already reviewed this matching."


def create_review(db: Database, actor: Actor, matching_id: int, body: ReviewIn) -> Review:
    """Review a completed matching as its guardian or its caregiver.

    403 for operators; 404 for a matching that does not exist or is not the caller's; 409 when
    the matching is not completed or the caller has already reviewed it.
    """
    require_role(actor.principal, Role.GUARDIAN, Role.CAREGIVER)
    try:
        with db.transaction() as cur:
            matching = repository.lock_matching(cur, matching_id)
            reviewer_role = _authorize_reviewer(cur, actor.principal, matching)
            if matching["status"] != MatchingStatus.COMPLETED:
                raise ConflictError(
                    f"Only a completed matching can be reviewed; this one is {matching['status']}."
                )
            if repository.review_exists(cur, matching_id, actor.user_id):
                raise ConflictError(ALREADY_REVIEWED)
            rates_caregiver = reviewer_role == "guardian"
            if rates_caregiver:
                repository.lock_caregiver_rating(cur, matching["caregiver_id"])
            review = repository.insert_review(
                cur,
                matching_id=matching_id,
                caregiver_id=matching["caregiver_id"],
                reviewer_id=actor.user_id,
                reviewer_role=reviewer_role,
                rating=body.rating,
                comment=body.comment,
            )
            if rates_caregiver:
                repository.refresh_caregiver_rating(cur, matching["caregiver_id"])
            audit.record(
                cur,
                actor,
                AuditAction.CREATE,
                patient_id=matching["patient_id"],
                resource_type="review",
                resource_id=review["review_id"],
                detail={"matching_id": matching_id, "reviewer_role": reviewer_role},
            )
    except psycopg2.errors.UniqueViolation:
        # Unreachable while the matching lock serialises reviewers; the constraint decides.
        raise ConflictError(ALREADY_REVIEWED) from None
    log.info("review_created", review_id=review["review_id"], matching_id=matching_id)
    return Review.model_validate(review)


def list_caregiver_reviews(
    db: Database, caregiver_id: int, *, limit: int, offset: int
) -> Page[PublicReview]:
    """The caregiver's public reputation: guardians' reviews, newest first, names masked.

    Any signed-in user may read it (the route requires authentication; no role is refused).
    It holds no patient data, so it writes no audit event. 404 when there is no such caregiver.
    """
    with db.transaction(readonly=True) as cur:
        total = repository.count_public_reviews(cur, caregiver_id)
        if total is None:
            raise NotFoundError(f"No caregiver has id {caregiver_id}.")
        rows = repository.list_public_reviews(cur, caregiver_id, limit=limit, offset=offset)
    items = [
        PublicReview.model_validate({**row, "reviewer_name": mask_name(row["reviewer_name"])})
        for row in rows
    ]
    return Page[PublicReview](items=items, total=total)


def mask_name(name: str) -> str:
    """Keep the first character and hide the rest: "김철수" -> "김**"."""
    text = name.strip()
    if len(text) <= 1:
        return "*"
    return text[0] + "*" * (len(text) - 1)


def _authorize_reviewer(cur, principal: Principal, matching: dict | None) -> ReviewerRole:
    """The caller's side of the matching, or 404 (missing and out-of-scope alike).

    The guardian side goes through the authorization module (the patient's owner). The
    caregiver side is the matching's own caregiver, whatever its status: the module's caregiver
    scopes cover active care, and a review comes after the care has ended.
    """
    if principal.role == Role.GUARDIAN:
        patient_id = matching["patient_id"] if matching else None
        authorize_patient(cur, principal, patient_id, PatientAction.MANAGE)
        return "guardian"
    if matching is None or matching["caregiver_user_id"] != principal.user_id:
        raise NotFoundError("No such matching, or it is not yours.")
    return "caregiver"
