"""The AI client against the HTTPS fake of Azure OpenAI, in-process: what reaches the wire, the
one retry with its reason, and every failure ending in the template within the time budget
(AZURE_OPENAI_TIMEOUT is 1 s here, so the budget is 2 s)."""

from __future__ import annotations

import time
from datetime import date

import pytest

from shared.ai import care_plans
from shared.ai.client import MAX_BUDGET_SECONDS, AiConfig, ai_config
from shared.ai.prompts import CareProfile
from shared.config import get_settings
from shared.health import CheckOutcome
from shared.health_checks import check_openai
from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.fixtures.azure_openai import care_plan_answer

pytestmark = pytest.mark.integration

START = date(2026, 12, 7)
#: Beyond the 2 s budget: the template, thread hand-offs and a loaded CI machine.
MARGIN = 1.0
PROFILE = CareProfile(
    age_band="80대",
    care_level="grade_3",
    mobility_status="independent",
    conditions=("diabetes",),
    allergens=("soy",),
    takes_medication=True,
    medication_names=("노바스크",),
)


def openai_outcome() -> CheckOutcome:
    """The openai readiness check's outcome (the registry types checks as possibly None)."""
    outcome = check_openai()
    assert outcome is not None  # check_openai always returns one
    return outcome


def write_plan(days: int = 2) -> care_plans.WrittenPlan:
    return care_plans.write(PROFILE, START, days)


def test_a_good_answer_is_used_and_the_request_is_azures(ai_settings, fake_openai):
    fake_openai.reply(content=care_plan_answer(START, 2))

    plan = write_plan()

    assert plan.source == "ai"
    assert [d.date for d in plan.days] == [START, date(2026, 12, 8)]
    assert plan.generation.validation == "passed"
    assert plan.generation.attempts == 1
    assert plan.generation.deployment == "gpt-4o-mini-test"
    (request,) = fake_openai.requests  # the SDK's own retries are off
    assert request.deployment == "gpt-4o-mini-test"
    assert request.api_version == get_settings().azure_openai_api_version
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["name"] == "CarePlanAnswer"
    activity = response_format["json_schema"]["schema"]["$defs"]["PlannedActivity"]
    assert set(activity["properties"]) == {"time", "title", "category", "assignee", "note"}
    assert fake_openai.refused == 0


def test_an_allergen_derived_ingredient_is_refused_and_retried_with_the_reason(
    ai_settings, fake_openai
):
    spoiled = care_plan_answer(START, 2)
    spoiled["days"][0]["activities"][1]["title"] = "두부조림 반찬 준비"
    fake_openai.reply(content=spoiled)
    fake_openai.reply(content=care_plan_answer(START, 2))

    plan = write_plan()

    assert plan.source == "ai"
    assert plan.generation.attempts == 2
    assert len(plan.generation.failures) == 1
    assert "contains soy (대두) as '두부'" in plan.generation.failures[0]
    first, retry = fake_openai.requests
    # The retry shows the model its refused answer and why.
    assert retry.messages[: len(first.messages)] == first.messages
    assert retry.messages[-2]["role"] == "assistant"
    assert "두부조림 반찬 준비" in retry.messages[-2]["content"]
    assert "contains soy (대두) as '두부'" in retry.messages[-1]["content"]


def test_a_second_refused_answer_ends_in_the_template(ai_settings, fake_openai):
    spoiled = care_plan_answer(START, 2)
    spoiled["days"][1]["activities"][0]["note"] = "간장 대신 소금을 쓰세요"
    fake_openai.always(content=spoiled)

    plan = write_plan()

    assert plan.source == "template"
    assert plan.generation.validation == "failed"
    assert len(fake_openai.requests) == 2
    assert all("'간장'" in f for f in plan.generation.failures)
    texts = " ".join(a.title + (a.note or "") for d in plan.days for a in d.activities)
    assert "간장" not in texts
    assert "두부" not in texts


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ({"content": '{"days": [{"date": "2026-12-07", "activities": ['}, "malformed"),
        ({"content": {"days": "soon"}}, "malformed"),
        ({"status": 429, "retry_after": 1}, "rate_limited"),
        ({"status": 500}, "server_error"),
        ({"status": 503}, "server_error"),
        ({"finish_reason": "content_filter"}, "content_filter"),
        ({"content": "{}", "finish_reason": "length"}, "length"),
        ({"refusal": "I cannot help with that."}, "refusal"),
        ({"content": "slow", "delay": 5}, "timeout"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_failure_ends_in_the_template_within_the_budget(
    ai_settings, fake_openai, reply, kind
):
    fake_openai.always(**reply)
    budget = ai_config().budget_seconds
    assert budget == 2.0

    started = time.monotonic()
    plan = write_plan()
    elapsed = time.monotonic() - started

    assert plan.source == "template"
    assert elapsed < budget + MARGIN, elapsed
    assert [f.split(":")[0] for f in plan.generation.failures] == [kind, kind]
    assert len(fake_openai.requests) == 2
    assert len(plan.days) == 2
    assert all(day.activities for day in plan.days)


def test_a_long_retry_after_is_not_waited_for(ai_settings, fake_openai):
    fake_openai.always(status=429, retry_after=30)

    started = time.monotonic()
    plan = write_plan()

    assert time.monotonic() - started < MARGIN
    assert plan.source == "template"
    assert len(fake_openai.requests) == 1


def test_a_wrong_key_is_refused_by_the_service_and_the_template_serves(
    ai_settings, fake_openai, monkeypatch
):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "not-the-key-0000000000")
    fake_openai.always(content=care_plan_answer(START, 2))

    plan = write_plan()

    assert plan.source == "template"
    assert [f.split(":")[0] for f in plan.generation.failures] == ["authentication"] * 2
    assert fake_openai.refused == 2
    assert fake_openai.requests == []


def test_without_a_key_an_entra_token_is_used(
    ai_settings, fake_openai, fake_managed_identity, monkeypatch
):
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    for name, value in fake_managed_identity.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
    fake_openai.reply(content=care_plan_answer(START, 2))

    plan = write_plan()

    assert plan.source == "ai"
    (request,) = fake_openai.requests
    assert request.headers["authorization"].startswith("Bearer ")
    assert "api-key" not in request.headers


def test_an_identity_that_gets_no_token_ends_in_the_template(
    ai_settings, fake_openai, fake_managed_identity, monkeypatch
):
    """Not an SDK error at all (azure-identity raises): still a failure, never a 500."""
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    monkeypatch.setenv("IDENTITY_ENDPOINT", fake_managed_identity.endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-platform-header")
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
    fake_openai.always(content=care_plan_answer(START, 2))

    plan = write_plan()

    assert plan.source == "template"
    assert plan.generation.failures[0].startswith("client_error: unexpected ")
    assert fake_openai.requests == []
    assert openai_outcome().status == "degraded"


def test_ai_off_means_templates_and_no_call(ai_settings, fake_openai, monkeypatch):
    monkeypatch.setenv("ENABLE_AI_CARE_PLAN", "false")

    plan = write_plan()

    assert plan.source == "template"
    assert plan.generation.validation == "skipped"
    assert plan.generation.attempts == 0
    assert plan.generation.deployment is None
    assert fake_openai.requests == []
    outcome = openai_outcome()
    assert (outcome.status, outcome.detail) == (
        "disabled",
        "ENABLE_AI_CARE_PLAN is false; templates serve",
    )


def test_no_endpoint_means_ai_is_disabled(app_env, fake_openai, monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)

    assert write_plan().source == "template"
    assert openai_outcome().status == "disabled"
    assert "AZURE_OPENAI_ENDPOINT" in (openai_outcome().detail or "")


def test_readiness_reports_the_last_calls_without_calling(
    ai_settings, fake_openai: FakeAzureOpenAI
):
    first = openai_outcome()
    assert first.status == "ok"
    assert fake_openai.requests == []  # the check never calls the model

    fake_openai.always(status=500)
    write_plan()
    degraded = openai_outcome()
    assert degraded.status == "degraded"
    assert "server_error" in (degraded.detail or "")

    fake_openai.reply(content=care_plan_answer(START, 2))
    assert write_plan().source == "ai"
    assert openai_outcome().status == "ok"


def test_a_refused_answer_is_not_a_service_failure(ai_settings, fake_openai):
    spoiled = care_plan_answer(START, 2)
    spoiled["days"] = spoiled["days"][:1]
    fake_openai.always(content=spoiled)

    assert write_plan().source == "template"
    assert openai_outcome().status == "ok"  # the service answered; the answer was at fault


@pytest.mark.parametrize(("timeout", "budget"), [(1, 2), (30, 60), (45, 90), (120, 200)])
def test_two_attempts_share_a_budget_inside_the_http_limit(timeout, budget):
    """Azure's front end drops an HTTP request after 230 s: the budget never reaches it."""
    config = AiConfig(True, "https://x", "d", "v", timeout=timeout)
    assert config.budget_seconds == budget <= MAX_BUDGET_SECONDS < 230
