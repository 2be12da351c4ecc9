"""The personality test: the question set, and taking the test."""

from __future__ import annotations

from models.personality_tests import (
    PersonalityTestIn,
    PersonalityTestResult,
    QuestionSet,
    QuestionsQuery,
)
from models.vocabularies import Role
from shared.http import Api, ApiRequest
from shared.personality_tests import service

api = Api(tag="personality-tests")
bp = api.blueprint


@api.route(
    "GET",
    "api/personality-tests/questions",
    name="personality_tests_questions",
    query=QuestionsQuery,
    response=QuestionSet,
)
def questions(request: ApiRequest) -> QuestionSet:
    """The versioned question set (12 statements, answers 1..5), worded for the subject."""
    return service.questions(request.query)


@api.route(
    "POST",
    "api/personality-tests",
    name="personality_tests_take",
    roles=(Role.GUARDIAN, Role.CAREGIVER),
    body=PersonalityTestIn,
    response=PersonalityTestResult,
    status=201,
    errors=(403, 404, 409, 429),
)
def take_test(request: ApiRequest) -> PersonalityTestResult:
    """Score the answers by the rubric, store them on the subject, add an analysis."""
    return service.take_test(request.uow, request.body)
