"""Reviews (API.md "Reviews and dashboard"): a completed matching's guardian rates its caregiver,
and its caregiver may review the care relationship in return.

Each review is done in the request's unit of work (shared.unit_of_work): one transaction that
row-locks the matching first, so two racing reviews by one reviewer cannot both land (the second
waits, then finds the first: 409). A guardian's review also locks the caregiver and recomputes
avg_rating and total_reviews from the reviews table, so the counters are exact however many
reviews arrive at once. A caregiver's review never changes the caregiver's own rating.
"""

from __future__ import annotations

from models.common import Page
from models.reviews import PublicReview, Review, ReviewerRole, ReviewIn
from models.vocabularies import MatchingStatus, Role
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, require_role
from shared.errors import ConflictError, NotFoundError
from shared.observability import get_logger
from shared.reviews import repository
from shared.reviews.repository import ALREADY_REVIEWED, MatchingPartiesRow
from shared.unit_of_work import UnitOfWork

log = get_logger("reviews")


def create_review(uow: UnitOfWork, matching_id: int, body: ReviewIn) -> Review:
    """Review a completed matching as its guardian or its caregiver.

    403 for operators; 404 for a matching that does not exist or is not the caller's; 409 when
    the matching is not completed or the caller has already reviewed it (should two reviews of
    one reviewer race past the matching lock, the registered unique constraint says the same).
    """
    require_role(uow.principal, Role.GUARDIAN, Role.CAREGIVER)
    cur = uow.cursor
    matching, reviewer_role = _authorize_reviewer(uow, repository.lock_matching(cur, matching_id))
    if matching["status"] != MatchingStatus.COMPLETED:
        raise ConflictError(
            f"Only a completed matching can be reviewed; this one is {matching['status']}."
        )
    reviewer_id = uow.principal.user_id
    if repository.review_exists(cur, matching_id, reviewer_id):
        raise ConflictError(ALREADY_REVIEWED)
    rates_caregiver = reviewer_role == "guardian"
    if rates_caregiver:
        repository.lock_caregiver_rating(cur, matching["caregiver_id"])
    review = repository.insert_review(
        cur,
        matching_id=matching_id,
        caregiver_id=matching["caregiver_id"],
        reviewer_id=reviewer_id,
        reviewer_role=reviewer_role,
        rating=body.rating,
        comment=body.comment,
    )
    if rates_caregiver:
        repository.refresh_caregiver_ratings(cur, [matching["caregiver_id"]])
    uow.audit(
        AuditAction.CREATE,
        "review",
        patient_id=matching["patient_id"],
        resource_id=review["review_id"],
        detail={"matching_id": matching_id, "reviewer_role": reviewer_role},
    )
    log.info("review_created", review_id=review["review_id"], matching_id=matching_id)
    return Review.model_validate(review)


def list_caregiver_reviews(
    uow: UnitOfWork, caregiver_id: int, *, limit: int, offset: int
) -> Page[PublicReview]:
    """The caregiver's public reputation: guardians' reviews, newest first, names masked.

    Any signed-in user may read it (the route requires authentication; no role is refused).
    It holds no patient data, so it writes no audit event. 404 when there is no such caregiver.
    """
    cur = uow.cursor
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


def _authorize_reviewer(
    uow: UnitOfWork, matching: MatchingPartiesRow | None
) -> tuple[MatchingPartiesRow, ReviewerRole]:
    """The matching and the caller's side of it, or 404 (missing and out-of-scope alike).

    The guardian side goes through the authorization table (the patient's owner). The
    caregiver side is the matching's own caregiver, whatever its status: the table's caregiver
    scopes cover active care, and a review comes after the care has ended.
    """
    principal = uow.principal
    if principal.role == Role.GUARDIAN:
        uow.authorize(matching["patient_id"] if matching else None, PatientAction.MANAGE)
        if matching is not None:  # (authorize answered 404 for a missing one)
            return matching, "guardian"
    elif matching is not None and matching["caregiver_user_id"] == principal.user_id:
        return matching, "caregiver"
    raise NotFoundError("No such matching, or it is not yours.")
