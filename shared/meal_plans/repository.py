"""All SQL of meal plans (one row per meal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, TypedDict, cast

from shared.db import Cursor

_MEAL_COLUMNS = """
    meal_plan_id, patient_id, plan_date, meal_type, menu_name, ingredients, kcal, protein_g,
    carbs_g, fat_g, sodium_mg, cooking_tips, source, created_at
"""

NutritionKey = Literal["kcal", "protein_g", "carbs_g", "fat_g", "sodium_mg"]
#: A meal's nutrition figures, one column each.
NUTRITION_KEYS: tuple[NutritionKey, ...] = ("kcal", "protein_g", "carbs_g", "fat_g", "sodium_mg")


class MealRow(TypedDict):
    meal_plan_id: int
    patient_id: int
    plan_date: date
    meal_type: str  # a MealType code
    menu_name: str
    ingredients: list[str]
    kcal: Decimal
    protein_g: Decimal
    carbs_g: Decimal
    fat_g: Decimal
    sodium_mg: Decimal
    cooking_tips: str | None
    source: str  # "ai" or "template"
    created_at: datetime


def insert_meal(
    cur: Cursor,
    *,
    patient_id: int,
    plan_date: date,
    meal_type: str,
    menu_name: str,
    ingredients: Sequence[str],
    nutrition: Mapping[str, float],
    cooking_tips: str | None,
    source: str,
) -> MealRow:
    cur.execute(
        f"""
        INSERT INTO meal_plans (patient_id, plan_date, meal_type, menu_name, ingredients, kcal,
            protein_g, carbs_g, fat_g, sodium_mg, cooking_tips, source)
        VALUES (%(patient_id)s, %(plan_date)s, %(meal_type)s, %(menu_name)s,
            %(ingredients)s::text[], %(kcal)s, %(protein_g)s, %(carbs_g)s, %(fat_g)s,
            %(sodium_mg)s, %(cooking_tips)s, %(source)s)
        RETURNING {_MEAL_COLUMNS}
        """,  # noqa: S608
        {
            "patient_id": patient_id,
            "plan_date": plan_date,
            "meal_type": meal_type,
            "menu_name": menu_name,
            "ingredients": list(ingredients),
            "cooking_tips": cooking_tips,
            "source": source,
            **{key: nutrition[key] for key in NUTRITION_KEYS},
        },
    )
    return cast(MealRow, cur.fetchone())
