"""Meal plans (API.md "Care plans, meals, schedules and logs"): one menu per requested meal of
a day, free of the patient's allergens and within its diet's sodium and carbohydrate caps."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from models.care import IsoDate
from models.common import ApiModel, ResponseModel
from models.dates import korea_today
from models.vocabularies import LabeledEnum


class MealType(LabeledEnum):
    BREAKFAST = "breakfast", "아침"
    LUNCH = "lunch", "점심"
    DINNER = "dinner", "저녁"
    SNACK = "snack", "간식"


class MealPlanCreate(ApiModel):
    date: IsoDate = Field(description="The day (today or later, Korea).")
    meal_types: list[MealType] = Field(min_length=1, max_length=4)

    @field_validator("date")
    @classmethod
    def _not_in_the_past(cls, value: dt.date) -> dt.date:
        if value < korea_today():
            raise ValueError("must be today or later")
        return value

    @field_validator("meal_types")
    @classmethod
    def _distinct(cls, meal_types: list[MealType]) -> list[MealType]:
        if len(set(meal_types)) != len(meal_types):
            raise ValueError("must not repeat a meal type")
        return meal_types


class Nutrition(ResponseModel):
    kcal: float
    protein_g: float
    carbs_g: float
    fat_g: float
    sodium_mg: float


class Meal(ResponseModel):
    meal_plan_id: int
    meal_type: MealType
    menu_name: str
    ingredients: list[str]
    nutrition: Nutrition
    cooking_tips: str | None
    source: Literal["ai", "template"]


class MealPlanSet(ResponseModel):
    patient_id: int
    date: dt.date
    meals: list[Meal]
    source: Literal["ai", "template"]
    disclaimer: str
    created_at: datetime
