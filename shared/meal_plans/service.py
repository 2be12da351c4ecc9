"""Meal plans (API.md "Care plans, meals, schedules and logs").

Create (owning guardian, MANAGE): the patient's care profile is read (diet, allergens,
conditions), the call is counted against the caller's hourly AI allowance (shared.rate_limits:
429 over it, before AI is asked), AI or the menu catalogue writes one meal per requested meal
type, then one transaction stores the meals, the generation record and an audit event per meal.
As for care plans, the AI call runs between the two transactions of the unit of work (it is
committed before the call) and the second one authorises again.
"""

from __future__ import annotations

from decimal import Decimal

from models.meal_plans import Meal, MealPlanCreate, MealPlanSet
from shared import rate_limits
from shared.ai import generations
from shared.ai import meal_plans as ai_meal_plans
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.care_plans.service import read_care_profile
from shared.meal_plans import repository as repo
from shared.meal_plans.repository import NUTRITION_KEYS, MealRow
from shared.rate_limits import LimitedAction
from shared.unit_of_work import UnitOfWork


def create_meal_plans(uow: UnitOfWork, patient_id: int, body: MealPlanCreate) -> MealPlanSet:
    """One meal per requested meal type, written by AI (or from the menu catalogue)."""
    profile = read_care_profile(uow, patient_id)
    uow.commit()  # no connection is held while AI writes
    rate_limits.charge(uow, LimitedAction.AI_WRITING)  # committed; 429 before AI is asked
    meal_types = [str(t) for t in body.meal_types]
    written = ai_meal_plans.write(profile, body.date, meal_types)

    uow.authorize(patient_id, PatientAction.MANAGE)  # begins the second transaction
    cur = uow.cursor
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
        requested_by=uow.principal.user_id,
        resource_type="meal_plan",
        resource_ids=ids,
    )
    uow.audit_many(
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


def _meal(row: MealRow) -> Meal:
    return Meal.model_validate(
        {
            **row,
            "ingredients": list(row["ingredients"]),
            "nutrition": {key: _float(row[key]) for key in NUTRITION_KEYS},
        }
    )


def _float(value: Decimal | float) -> float:
    return float(value)
