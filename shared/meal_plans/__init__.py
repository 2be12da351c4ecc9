"""Meal plans: a day's menus, free of the patient's allergens and within its diet's caps."""
