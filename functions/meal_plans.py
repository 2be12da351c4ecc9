"""Meal plans: a day's menus for a patient, by AI or from the menu catalogue."""

from __future__ import annotations

from models.meal_plans import MealPlanCreate, MealPlanSet
from models.vocabularies import Role
from shared.http import Api, ApiRequest
from shared.meal_plans import service

api = Api(tag="meal-plans")
bp = api.blueprint


@api.route(
    "POST",
    "api/patients/{patient_id:long}/meal-plans",
    name="meal_plans_create",
    roles=(Role.GUARDIAN,),
    body=MealPlanCreate,
    response=MealPlanSet,
    status=201,
    errors=(403, 404, 429),
)
def create_meal_plans(request: ApiRequest) -> MealPlanSet:
    """One menu per requested meal type, free of the patient's allergens, within its caps."""
    return service.create_meal_plans(request.uow, request.path_params["patient_id"], request.body)
