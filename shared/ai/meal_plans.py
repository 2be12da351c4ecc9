"""Meal plans written by AI, checked, or picked from the curated menu catalogue.

The answer has one meal per requested meal type (exactly those, each once), each with every
ingredient, a per-serving nutrition estimate and a texture; `checks.meal_problems` rejects an
allergen or anything made from one, sodium and carbohydrate over the diet's caps, kcal that
disagrees with the macros, a texture the diet cannot take, and drug or dose text. The template
path filters the catalogue through the very same checks. `write` never fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.ai import checks, prompts, structured
from shared.ai.client import AiConfig, ai_config
from shared.ai.generations import Generation
from shared.ai.prompts import CareProfile
from shared.ai.templates import menu

KIND = "meal_plan"
DISCLAIMER = (
    "이 식단은 참고용 추정치이며 의료적 판단이나 영양 상담을 대체하지 않습니다. 삼킴이 어렵거나"
    " 이상 반응이 있으면 담당 의료진과 상의하시고, 응급 상황에는 즉시 119에 연락하세요."
)
MAX_TOKENS_PER_MEAL = 600
MAX_MENU_NAME, MAX_TIPS, MAX_INGREDIENTS = 60, 300, 25


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NutritionAnswer(_Strict):
    kcal: float
    protein_g: float
    carbs_g: float
    fat_g: float
    sodium_mg: float


class MealAnswer(_Strict):
    meal_type: Literal["breakfast", "lunch", "dinner", "snack"]
    menu_name: str
    ingredients: list[str]
    nutrition: NutritionAnswer
    cooking_tips: str
    texture: Literal["liquid", "soft", "regular"]


class MealPlanAnswer(_Strict):
    meals: list[MealAnswer]


@dataclass(frozen=True)
class PlannedMeal:
    meal_type: str
    menu_name: str
    ingredients: list[str]
    nutrition: dict[str, float]
    cooking_tips: str | None


@dataclass(frozen=True)
class WrittenMeals:
    meals: list[PlannedMeal]
    source: str
    generation: Generation


def answer_problems(
    answer: MealPlanAnswer, profile: CareProfile, meal_types: Sequence[str]
) -> list[str]:
    given = [meal.meal_type for meal in answer.meals]
    problems = []
    if sorted(given) != sorted(meal_types) or len(set(given)) != len(given):
        problems.append(f"meals must be exactly one each of {', '.join(meal_types)} (got {given})")
    limits = checks.meal_limits(profile.diet_type, profile.conditions)
    for meal in answer.meals:
        label = f"{meal.meal_type} '{meal.menu_name[:40]}'"
        for field_name, text, low, high in (
            ("menu name", meal.menu_name, 1, MAX_MENU_NAME),
            ("cooking tips", meal.cooking_tips, 0, MAX_TIPS),
        ):
            if problem := checks.length_problem(f"{label}: {field_name}", text, low, high):
                problems.append(problem)
        if text_problem := checks.korean_problem(f"{label}: menu name", meal.menu_name):
            problems.append(text_problem)
        if len(meal.ingredients) > MAX_INGREDIENTS or any(
            not 1 <= len(i.strip()) <= MAX_MENU_NAME for i in meal.ingredients
        ):
            problems.append(f"{label}: 1..{MAX_INGREDIENTS} ingredients of 1..60 characters")
        problems += checks.meal_problems(
            _as_checked(meal),
            meal_type=meal.meal_type,
            allergens=profile.allergens,
            limits=limits,
            medication_names=profile.medication_names,
        )
    return problems


def write(
    profile: CareProfile, day: date, meal_types: Sequence[str], *, config: AiConfig | None = None
) -> WrittenMeals:
    """Meals of `day`, one per meal type, in the order asked: AI when accepted, else template."""
    config = config or ai_config()
    wanted = [str(t) for t in meal_types]
    limits = checks.meal_limits(profile.diet_type, profile.conditions)
    prompt_input = {**profile.prompt_input(), "date": day.isoformat(), "meal_types": wanted}
    generated = None
    if config.enabled:
        generated = structured.generate(
            prompts.meal_plan_messages(profile, day, wanted, limits.describe()),
            MealPlanAnswer,
            lambda answer: answer_problems(answer, profile, wanted),
            config=config,
            max_tokens=MAX_TOKENS_PER_MEAL * len(wanted),
        )
    generation = Generation.of(
        KIND,
        prompt_version=prompts.PROMPT_VERSIONS[KIND],
        input_hash=prompts.input_hash(KIND, prompt_input),
        config=config,
        generated=generated,
    )
    if generated is not None and generated.value is not None:
        by_type: dict[str, MealAnswer] = {meal.meal_type: meal for meal in generated.value.meals}
        meals = [_planned(by_type[t]) for t in wanted]
        return WrittenMeals(meals, "ai", generation)
    return WrittenMeals(template_meals(profile, day, wanted), "template", generation)


def template_meals(profile: CareProfile, day: date, meal_types: Sequence[str]) -> list[PlannedMeal]:
    limits = checks.meal_limits(profile.diet_type, profile.conditions)
    preferred = menu.preferred_texture(limits.textures)
    meals = []
    for meal_type in meal_types:
        candidates = [
            dish
            for dish in menu.CATALOGUE
            if meal_type in dish.meal_types
            and not checks.meal_problems(
                dish.as_meal(),
                meal_type=meal_type,
                allergens=profile.allergens,
                limits=limits,
                medication_names=profile.medication_names,
            )
        ]
        dish = (
            menu.pick(candidates, day=day.isoformat(), meal_type=meal_type, preferred=preferred)
            if candidates
            else menu.LAST_RESORT
        )
        meal = dish.as_meal()
        meals.append(
            PlannedMeal(
                meal_type=meal_type,
                menu_name=meal["menu_name"],
                ingredients=meal["ingredients"],
                nutrition=meal["nutrition"],
                cooking_tips=meal["cooking_tips"],
            )
        )
    return meals


def _as_checked(meal: MealAnswer) -> dict[str, Any]:
    return {
        "menu_name": meal.menu_name,
        "ingredients": meal.ingredients,
        "nutrition": meal.nutrition.model_dump(),
        "cooking_tips": meal.cooking_tips,
        "texture": meal.texture,
    }


def _planned(meal: MealAnswer) -> PlannedMeal:
    return PlannedMeal(
        meal_type=meal.meal_type,
        menu_name=meal.menu_name.strip(),
        ingredients=[i.strip() for i in meal.ingredients],
        nutrition={k: round(v, 1) for k, v in meal.nutrition.model_dump().items()},
        cooking_tips=meal.cooking_tips.strip() or None,
    )
