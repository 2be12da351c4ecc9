"""Caregivers: own profile, public card, availability, personality."""

from __future__ import annotations

from shared.http import Api

api = Api(tag="caregivers")
bp = api.blueprint
