"""Schedules, care logs and care reports."""

from __future__ import annotations

from shared.http import Api

api = Api(tag="care")
bp = api.blueprint
