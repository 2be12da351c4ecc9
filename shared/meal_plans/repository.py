"""All SQL of meal plans (one row per meal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

_MEAL_COLUMNS = """
    meal_plan_id, patient_id, plan_date, meal_type, menu_name, ingredients, kcal, protein_g,
    carbs_g, fat_g, sodium_mg, cooking_tips, source, created_at
"""


def insert_meal(
    cur: Any,
    *,
    patient_id: int,
    plan_date: date,
    meal_type: str,
    menu_name: str,
    ingredients: Sequence[str],
    nutrition: dict[str, float],
    cooking_tips: str | None,
    source: str,
) -> dict[str, Any]:
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
            **{
                key: nutrition[key]
                for key in ("kcal", "protein_g", "carbs_g", "fat_g", "sodium_mg")
            },
        },
    )
    return cur.fetchone()
