"""Meal plans: AI meals checked against the patient's allergens (and what is made from them) and
diet caps, retried once, the catalogue template when they still fail; over HTTP, who may."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from models.dates import korea_today
from shared.ai import checks, meal_plans
from shared.ai.meal_plans import DISCLAIMER
from shared.ai.prompts import CareProfile
from tests.factories import PARTY_NAMES, Parties, cursor, set_patient_profile
from tests.fixtures.azure_openai import meal_answer

pytestmark = pytest.mark.integration

DAY = korea_today() + timedelta(days=3)
SOY_LOW_SODIUM = CareProfile(
    age_band="80대",
    care_level="grade_3",
    mobility_status="independent",
    conditions=("hypertension",),
    diet_type="low_sodium",
    allergens=("soy", "wheat"),
)


def url(parties: Parties) -> str:
    return f"api/patients/{parties.patient_id}/meal-plans"


def meal_rows(database_url: str, patient_id: int) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT meal_plan_id, meal_type, menu_name, ingredients, sodium_mg, source"
            " FROM meal_plans WHERE patient_id = %s ORDER BY meal_plan_id",
            (patient_id,),
        )
        return cur.fetchall()


# -- in-process: the checks on AI meals ------------------------------------------------------


def test_a_good_ai_meal_plan_is_used(ai_settings, fake_openai):
    fake_openai.reply(
        content={"meals": [meal_answer("dinner", "닭백숙"), meal_answer("breakfast")]}
    )

    written = meal_plans.write(SOY_LOW_SODIUM, DAY, ["breakfast", "dinner"])

    assert written.source == "ai"
    assert [m.meal_type for m in written.meals] == ["breakfast", "dinner"]  # as asked
    assert [m.menu_name for m in written.meals] == ["현미밥과 소고기 무국", "닭백숙"]
    (request,) = fake_openai.requests
    assert "나트륨 한 끼 600mg 이하" in request.prompt_text
    assert "대두" in request.prompt_text
    assert "밀가루" in request.prompt_text


@pytest.mark.parametrize(
    ("spoiled", "reason"),
    [
        ({"ingredients": ["쌀", "소고기", "국간장"]}, "contains soy (대두) as '간장'"),
        ({"ingredients": ["쌀", "소고기", "부침가루"]}, "contains wheat (밀가루) as '부침가루'"),
        ({"menu_name": "된장국과 현미밥"}, "contains soy (대두) as '된장'"),
        (
            {"nutrition": {"kcal": 413, "protein_g": 24, "carbs_g": 56, "fat_g": 9,
                           "sodium_mg": 900}},
            "sodium 900 mg is over 600 mg",
        ),
        (
            {"nutrition": {"kcal": 800, "protein_g": 24, "carbs_g": 56, "fat_g": 9,
                           "sodium_mg": 500}},
            "does not match the macros",
        ),
        ({"cooking_tips": "식후 아스피린을 챙겨 주세요."}, "names a medicine"),
    ],
)  # fmt: skip
def test_a_refused_meal_is_retried_with_its_reason_then_the_template_serves(
    ai_settings, fake_openai, spoiled, reason
):
    fake_openai.always(content={"meals": [meal_answer("lunch", **spoiled)]})

    written = meal_plans.write(SOY_LOW_SODIUM, DAY, ["lunch"])

    assert written.source == "template"
    assert len(fake_openai.requests) == 2
    assert reason in fake_openai.requests[1].messages[-1]["content"]
    assert all(reason in failure for failure in written.generation.failures)
    (meal,) = written.meals
    limits = checks.meal_limits("low_sodium", ["hypertension"])
    as_checked = {**meal.__dict__, "texture": "regular"}
    assert checks.meal_problems(as_checked, meal_type="lunch", allergens=("soy", "wheat"),
                                limits=limits) == []  # fmt: skip


def test_meals_must_be_exactly_the_requested_types(ai_settings, fake_openai):
    fake_openai.always(content={"meals": [meal_answer("lunch"), meal_answer("lunch")]})

    written = meal_plans.write(SOY_LOW_SODIUM, DAY, ["lunch", "dinner"])

    assert written.source == "template"
    assert "meals must be exactly one each of lunch, dinner" in written.generation.failures[0]


def test_a_slow_service_still_gets_meals_in_time(ai_settings, fake_openai):
    fake_openai.always(content={"meals": []}, delay=5)
    started = time.monotonic()
    written = meal_plans.write(SOY_LOW_SODIUM, DAY, ["breakfast", "lunch", "dinner", "snack"])
    assert time.monotonic() - started < 3.0
    assert written.source == "template"
    assert len(written.meals) == 4


# -- over HTTP -------------------------------------------------------------------------------


def test_an_ai_meal_plan_is_stored_with_its_generation(
    ai_app_server, fake_openai, parties: Parties, database_url
):
    fake_openai.reply(content={"meals": [meal_answer("lunch", "연어구이와 현미밥")]})

    response = ai_app_server.request(
        "POST", url(parties), json={"date": DAY.isoformat(), "meal_types": ["lunch"]},
        headers=parties.owner.headers,
    )  # fmt: skip

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["source"], body["disclaimer"], body["date"]) == ("ai", DISCLAIMER, DAY.isoformat())
    (meal,) = body["meals"]
    assert meal["menu_name"] == "연어구이와 현미밥"
    assert meal["source"] == "ai"
    assert meal["nutrition"] == {"kcal": 438.0, "protein_g": 28.0, "carbs_g": 50.0,
                                 "fat_g": 14.0, "sodium_mg": 380.0}  # fmt: skip
    (row,) = meal_rows(database_url, parties.patient_id)
    assert row["meal_plan_id"] == meal["meal_plan_id"]
    assert row["ingredients"] == ["연어", "현미", "브로콜리", "올리브유", "소금"]
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT kind, source, validation, resource_ids FROM ai_generations"
            " WHERE patient_id = %s",
            (parties.patient_id,),
        )
        assert cur.fetchall() == [
            {"kind": "meal_plan", "source": "ai", "validation": "passed",
             "resource_ids": [meal["meal_plan_id"]]}
        ]  # fmt: skip
        cur.execute(
            "SELECT action, resource_id, detail FROM audit_events WHERE patient_id = %s"
            " AND resource_type = 'meal_plan'",
            (parties.patient_id,),
        )
        assert cur.fetchall() == [
            {"action": "create", "resource_id": str(meal["meal_plan_id"]),
             "detail": {"date": DAY.isoformat(), "source": "ai"}}
        ]  # fmt: skip


def test_the_template_serves_when_ai_keeps_failing_and_keeps_the_patients_rules(
    ai_app_server, fake_openai, parties: Parties, database_url
):
    with cursor(database_url) as cur:
        set_patient_profile(
            cur,
            parties.patient_id,
            conditions=("diabetes", "hypertension"),
            diet_type="regular",
            allergens=("soy", "wheat", "egg", "milk", "shrimp"),
        )
    fake_openai.always(status=500)
    meal_types = ["breakfast", "lunch", "dinner", "snack"]

    response = ai_app_server.request(
        "POST", url(parties), json={"date": DAY.isoformat(), "meal_types": meal_types},
        headers=parties.owner.headers,
    )  # fmt: skip

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source"] == "template"
    assert [m["meal_type"] for m in body["meals"]] == meal_types
    for meal in body["meals"]:
        assert meal["nutrition"]["sodium_mg"] <= 600
        assert meal["nutrition"]["carbs_g"] <= 60
        text = " ".join([meal["menu_name"], *meal["ingredients"], meal["cooking_tips"] or ""])
        assert checks.allergen_terms(text, ["soy", "wheat", "egg", "milk", "shrimp"]) == []
    assert len(meal_rows(database_url, parties.patient_id)) == 4


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {("body", "date"), ("body", "meal_types")}),
        ({"date": DAY.isoformat(), "meal_types": []}, {("body", "meal_types")}),
        ({"date": DAY.isoformat(), "meal_types": ["lunch", "lunch"]}, {("body", "meal_types")}),
        ({"date": DAY.isoformat(), "meal_types": ["brunch"]}, {("body", "meal_types", 0)}),
        (
            {"date": (korea_today() - timedelta(days=1)).isoformat(), "meal_types": ["lunch"]},
            {("body", "date")},
        ),
        ({"date": "2026-12-32", "meal_types": ["lunch"]}, {("body", "date")}),
    ],
)
def test_bad_requests_are_422_and_write_nothing(
    app_server, parties: Parties, database_url, body, fields
):
    response = app_server.request("POST", url(parties), json=body, headers=parties.owner.headers)
    assert response.status_code == 422, response.text
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == fields
    assert meal_rows(database_url, parties.patient_id) == []


@pytest.mark.parametrize(
    ("who", "status"), list(zip(PARTY_NAMES, (401, 404, 403, 403, 201, 403), strict=True))
)
def test_only_the_owner_plans_meals(app_server, parties: Parties, database_url, who, status):
    response = app_server.request(
        "POST", url(parties), json={"date": DAY.isoformat(), "meal_types": ["dinner"]},
        headers=parties.headers(who),
    )  # fmt: skip
    assert response.status_code == status, response.text
    rows = meal_rows(database_url, parties.patient_id)
    assert len(rows) == (1 if status == 201 else 0)
    if status == 201:
        assert response.json()["meals"][0]["source"] == "template"  # the shared app has no AI
