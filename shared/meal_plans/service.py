"""Meal plans (API.md "Care plans, meals, schedules and logs").

Create (owning guardian, MANAGE): the patient's care profile is read (diet, allergens,
conditions), AI or the menu catalogue writes one meal per requested meal type, then one
transaction stores the meals, the generation record and an audit event per meal. As for care
plans, the AI call runs between the two transactions and the second one authorises again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from models.meal_plans import Meal, MealPlanCreate, MealPlanSet
from shared import audit
from shared.ai import generations
from shared.ai import meal_plans as ai_meal_plans
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction, authorize_patient
from shared.auth.principal import Actor
from shared.care_plans.service import read_care_profile
from shared.db import Database
from shared.meal_plans import repository as repo

NUTRITION_KEYS = ("kcal", "protein_g", "carbs_g", "fat_g", "sodium_mg")


def create_meal_plans(
    db: Database, actor: Actor, patient_id: int, body: MealPlanCreate
) -> MealPlanSet:
    profile = read_care_profile(db, actor, patient_id)
    meal_types = [str(t) for t in body.meal_types]
    written = ai_meal_plans.write(profile, body.date, meal_types)
    with db.transaction() as cur:
        authorize_patient(cur, actor.principal, patient_id, PatientAction.MANAGE)
        rows = [
            repo.insert_meal(
                cur,
                patient_id=patient_id,
                plan_date=body.date,
                meal_type=meal.meal_type,
                menu_name=meal.menu_name,
                ingredients=meal.ingredients,
                nutrition=meal.nutrition,
                cooking_tips=meal.cooking_tips,
                source=written.source,
            )
            for meal in written.meals
        ]
        ids = [row["meal_plan_id"] for row in rows]
        generations.insert(
            cur,
            written.generation,
            patient_id=patient_id,
            requested_by=actor.user_id,
            resource_type="meal_plan",
            resource_ids=ids,
        )
        audit.record_many(
            cur,
            actor,
            AuditAction.CREATE,
            "meal_plan",
            [(patient_id, meal_plan_id) for meal_plan_id in ids],
            detail={"date": body.date.isoformat(), "source": written.source},
        )
    return MealPlanSet(
        patient_id=patient_id,
        date=body.date,
        meals=[_meal(row) for row in rows],
        source=written.source,
        disclaimer=ai_meal_plans.DISCLAIMER,
        created_at=rows[0]["created_at"],
    )


def _meal(row: dict[str, Any]) -> Meal:
    return Meal.model_validate(
        {
            **row,
            "ingredients": list(row["ingredients"]),
            "nutrition": {key: _float(row[key]) for key in NUTRITION_KEYS},
        }
    )


def _float(value: Decimal | float) -> float:
    return float(value)
