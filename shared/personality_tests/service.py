"""The personality test (API.md "Personality test").

Who takes it: a guardian about its own patient (`subject: patient`, MANAGE on that patient), or
a caregiver about themselves (`subject: self`, with a caregiver profile; 409 without one). A
guardian has no personality profile of its own, so `self` is 403 for guardians; a caregiver
may not test a patient (403, as for every MANAGE action); operators take no test (403).

The scores come from the fixed rubric only (shared.ai.templates.personality.score) and are
stored on the subject with source `test`; AI writes the analysis text, with a rules text as
its fallback. As elsewhere, the AI call runs between two transactions of the request's unit of
work (`uow.commit()` before it, so no connection is held while AI writes); the second one
authorises again and locks the subject before storing. Between them, the test is counted against
the caller's hourly AI allowance (shared.rate_limits: its own committed transaction; 429 over it,
before AI is asked).
"""

from __future__ import annotations

from datetime import UTC, datetime

from models.personality_tests import (
    PersonalityTestIn,
    PersonalityTestResult,
    Question,
    QuestionSet,
    QuestionsQuery,
)
from models.vocabularies import Role
from shared import rate_limits
from shared.ai import generations
from shared.ai import personality as ai_personality
from shared.ai.prompts import age_band
from shared.ai.templates import personality as rubric
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, require_role
from shared.caregivers import repository as caregivers_repo
from shared.errors import ConflictError, ForbiddenError, NotFoundError
from shared.patients import repository as patients_repo
from shared.rate_limits import LimitedAction
from shared.unit_of_work import UnitOfWork

NO_CAREGIVER_PROFILE = (
    "You have no caregiver profile yet: create it first (PUT /api/caregivers/me), then take"
    " the test."
)


def questions(query: QuestionsQuery) -> QuestionSet:
    """The current question set, worded for the subject."""
    options = rubric.options()
    return QuestionSet(
        version=rubric.VERSION,
        subject=query.subject,
        questions=[
            Question(id=q.id, text=q.text(query.subject), options=options) for q in rubric.QUESTIONS
        ],
    )


def take_test(uow: UnitOfWork, body: PersonalityTestIn) -> PersonalityTestResult:
    """Score the answers, have the analysis written (AI, or rules) with no transaction open,
    then store both in a second transaction that authorises again."""
    principal = uow.principal
    scores = rubric.score(body.answer_values())
    if body.subject == "self":
        if principal.role == Role.GUARDIAN:
            raise ForbiddenError(
                "Only a caregiver takes the test for themselves; a guardian takes it for a"
                " patient (subject: patient)."
            )
        require_role(principal, Role.CAREGIVER)
        cur = uow.begin(readonly=True)
        if caregivers_repo.caregiver_id_for_user(cur, principal.user_id) is None:
            raise ConflictError(NO_CAREGIVER_PROFILE)
        uow.commit()  # no connection is held while AI writes
        rate_limits.charge(uow, LimitedAction.AI_WRITING)  # committed; 429 before AI is asked
        written = ai_personality.write("self", scores)
        return _store_self(uow, scores, written)
    patient_id = body.patient_id
    if patient_id is None:  # the model requires it for patient tests
        raise NotFoundError("No such patient, or it is not in your care.")
    uow.begin(readonly=True)
    uow.authorize(patient_id, PatientAction.MANAGE)
    patient = patients_repo.get_patient(uow.cursor, patient_id)
    uow.commit()  # no connection is held while AI writes
    if patient is None:
        raise NotFoundError("No such patient, or it is not in your care.")
    rate_limits.charge(uow, LimitedAction.AI_WRITING)  # committed; 429 before AI is asked
    written = ai_personality.write("patient", scores, age_band=age_band(patient["age"]))
    return _store_patient(uow, patient_id, scores, written)


def _store_self(
    uow: UnitOfWork, scores: dict[str, int], written: ai_personality.WrittenAnalysis
) -> PersonalityTestResult:
    cur = uow.cursor
    caregiver_id = caregivers_repo.caregiver_id_for_user(
        cur, uow.principal.user_id, for_update=True
    )
    if caregiver_id is None:  # deleted while AI wrote
        raise ConflictError(NO_CAREGIVER_PROFILE)
    row = caregivers_repo.upsert_personality(cur, caregiver_id, scores, source="test")
    generations.insert(
        cur,
        written.generation,
        patient_id=None,
        requested_by=uow.principal.user_id,
        resource_type="caregiver_personality",
        resource_ids=[caregiver_id],
    )
    return _result("self", None, caregiver_id, scores, written, row["updated_at"])


def _store_patient(
    uow: UnitOfWork,
    patient_id: int,
    scores: dict[str, int],
    written: ai_personality.WrittenAnalysis,
) -> PersonalityTestResult:
    uow.authorize(patient_id, PatientAction.MANAGE)  # again: a new transaction
    cur = uow.cursor
    if not patients_repo.lock_patient(cur, patient_id, profile_changed=True):
        raise NotFoundError("No such patient, or it is not in your care.")
    row, created = patients_repo.upsert_personality(cur, patient_id, scores, source="test")
    generations.insert(
        cur,
        written.generation,
        patient_id=patient_id,
        requested_by=uow.principal.user_id,
        resource_type="patient_personality",
        resource_ids=[patient_id],
    )
    uow.audit(
        AuditAction.CREATE if created else AuditAction.UPDATE,
        "personality",
        patient_id=patient_id,
        resource_id=patient_id,
        detail={"source": "test", "version": rubric.VERSION, "analysis": written.source},
    )
    return _result("patient", patient_id, None, scores, written, row["updated_at"])


def _result(
    subject: str,
    patient_id: int | None,
    caregiver_id: int | None,
    scores: dict[str, int],
    written: ai_personality.WrittenAnalysis,
    at: datetime | None,
) -> PersonalityTestResult:
    return PersonalityTestResult(
        subject=subject,
        patient_id=patient_id,
        caregiver_id=caregiver_id,
        version=rubric.VERSION,
        scores=scores,
        analysis=written.text,
        source=written.source,
        created_at=at or datetime.now(UTC),
    )
