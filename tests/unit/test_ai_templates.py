"""The template path alone: for every allergen and diet of the vocabulary, every meal type gets
a dish that passes every check; every care level and mobility gets a care plan that passes the
care-plan checks. The templates are what a caller gets whenever AI fails, so they must be as
safe as an accepted AI answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from itertools import product
from typing import Any

import pytest

from models.meal_plans import MealType
from models.vocabularies import Allergen, CareLevel, Condition, DietType, MobilityStatus
from shared.ai import care_plans, checks, meal_plans
from shared.ai.prompts import CareProfile
from shared.ai.templates import menu

DAY = date(2026, 12, 7)  # a Monday
MEAL_TYPES = [m.value for m in MealType]
ALL_ALLERGENS = tuple(a.value for a in Allergen)


BASE_PROFILE = CareProfile(
    age_band="80대",
    care_level="grade_3",
    mobility_status="independent",
    conditions=(),
    diet_type="regular",
    allergens=(),
    takes_medication=False,
)


def profile(**overrides: Any) -> CareProfile:
    return replace(BASE_PROFILE, **overrides)


def assert_meals_pass(patient: CareProfile) -> None:
    limits = checks.meal_limits(patient.diet_type, patient.conditions)
    for day_offset in range(3):  # the pick varies with the day: try a few
        day = DAY + timedelta(days=day_offset)
        planned = meal_plans.template_meals(patient, day, MEAL_TYPES)
        assert [m.meal_type for m in planned] == MEAL_TYPES
        for meal_type, planned_meal in zip(MEAL_TYPES, planned, strict=True):
            dish = next(d for d in menu.CATALOGUE if d.name == planned_meal.menu_name)
            problems = checks.meal_problems(
                dish.as_meal(), meal_type=meal_type, allergens=patient.allergens, limits=limits
            )
            assert problems == [], (patient, meal_type, problems)
            assert meal_type in dish.meal_types


@pytest.mark.parametrize(
    ("allergen", "diet"), list(product([a.value for a in Allergen], [d.value for d in DietType]))
)
def test_every_allergen_and_diet_gets_a_valid_meal_of_every_type(allergen, diet):
    assert_meals_pass(profile(allergens=(allergen,), diet_type=diet))


@pytest.mark.parametrize("diet", [d.value for d in DietType])
@pytest.mark.parametrize("conditions", [(), ("diabetes", "hypertension")])
def test_all_allergens_at_once_with_the_strictest_caps_still_get_valid_meals(diet, conditions):
    assert_meals_pass(profile(allergens=ALL_ALLERGENS, diet_type=diet, conditions=conditions))


def test_the_menu_varies_with_the_day():
    week = [
        meal_plans.template_meals(profile(), DAY + timedelta(days=n), ["lunch"])[0].menu_name
        for n in range(7)
    ]
    assert len(set(week)) >= 3


def test_diets_get_their_own_texture_first():
    liquid = meal_plans.template_meals(profile(diet_type="liquid"), DAY, MEAL_TYPES)
    soft = meal_plans.template_meals(profile(diet_type="soft"), DAY, ["breakfast", "lunch"])
    by_name = {d.name: d for d in menu.CATALOGUE}
    assert {by_name[m.menu_name].texture for m in liquid} == {"liquid"}
    assert {by_name[m.menu_name].texture for m in soft} == {"soft"}


def test_the_catalogue_is_consistent():
    assert len(menu.CATALOGUE) >= 30
    assert len({d.name for d in menu.CATALOGUE}) == len(menu.CATALOGUE)
    for dish in menu.CATALOGUE:
        meal = dish.as_meal()
        assert checks.energy_problem(meal["nutrition"]) is None, dish.name
        assert dish.texture in checks.ALL_TEXTURES
        assert dish.meal_types <= set(MEAL_TYPES)
        assert checks.medical_text_problems(dish.tips) == []
        assert checks.korean_problem(dish.name, dish.name) is None


def test_a_dish_with_an_allergen_is_never_picked_for_it():
    """Control: the catalogue does hold dishes with each allergen, and the filter removes them."""
    for allergen in Allergen:
        holding = [
            d
            for d in menu.CATALOGUE
            if checks.allergen_terms(" ".join((d.name, *d.ingredients)), [allergen.value])
        ]
        assert holding, allergen
        served = {
            m.menu_name
            for n in range(7)
            for m in meal_plans.template_meals(
                profile(allergens=(allergen.value,)), DAY + timedelta(days=n), MEAL_TYPES
            )
        }
        assert served.isdisjoint({d.name for d in holding})


# -- care plans ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("care_level", "mobility"),
    list(product([c.value for c in CareLevel], [m.value for m in MobilityStatus])),
)
@pytest.mark.parametrize("conditions", [(), tuple(c.value for c in Condition)])
def test_every_care_level_and_mobility_gets_a_valid_template_plan(care_level, mobility, conditions):
    patient = profile(
        care_level=care_level,
        mobility_status=mobility,
        conditions=conditions,
        takes_medication=bool(conditions),
        allergens=ALL_ALLERGENS,
        medication_names=("노바스크",),
    )
    dates = [DAY + timedelta(days=n) for n in range(7)]
    plan = care_plans.template_plan(patient, dates)
    answer = care_plans.template_as_answer(plan)
    assert care_plans.plan_problems(answer, patient, dates) == []
    for day in plan:
        times = [a.time for a in day.activities]
        assert times == sorted(times)
        categories = {a.category for a in day.activities}
        assert {"meal", "hygiene", "exercise", "vital_check", "cognitive"} <= categories
        assert ("medication" in categories) == bool(conditions)


def test_template_plans_follow_the_patient():
    bedridden = care_plans.template_plan(
        profile(mobility_status="bedridden", care_level="grade_1"), [DAY]
    )[0]
    titles = [a.title for a in bedridden.activities]
    assert titles.count("자세 바꾸기와 피부 상태 확인") == 3
    assert all(a.assignee == "caregiver" for a in bedridden.activities if a.category != "other")
    diabetic = care_plans.template_plan(profile(conditions=("diabetes", "dementia")), [DAY])[0]
    assert "점심 식후 혈당 재기" in [a.title for a in diabetic.activities]
    assert "옛 사진 보며 회상 대화" in [a.title for a in diabetic.activities]  # Monday's
    independent = care_plans.template_plan(profile(), [DAY])[0]
    assert any(a.assignee == "family" for a in independent.activities)


def test_the_care_plan_checks_refuse_what_they_should():
    patient = profile(allergens=("soy",), medication_names=("노바스크",))
    dates = [DAY, DAY + timedelta(days=1)]
    answer = care_plans.template_as_answer(care_plans.template_plan(patient, dates))
    answer.days[0].activities[0].title = "두부조림 만들기"
    answer.days[0].activities[1].note = "노바스크 1정씩"
    answer.days[0].activities[2].time = "25:00"
    answer.days[1].date = "2026-12-20"
    problems = care_plans.plan_problems(answer, patient, dates)
    joined = " | ".join(problems)
    assert "days must be exactly 2026-12-07, 2026-12-08" in joined
    assert "contains soy (대두) as '두부'" in joined
    assert "mentions one of the patient's medicines" in joined
    assert "contains dose or prescription text" in joined
    assert "time must be HH:MM" in joined
    assert "노바스크" not in joined  # the reasons never repeat the patient's own medicines
