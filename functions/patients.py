"""Guardians and patients: profiles, conditions, medications, diet, personality."""

from __future__ import annotations

from shared.http import Api

api = Api(tag="patients")
bp = api.blueprint
