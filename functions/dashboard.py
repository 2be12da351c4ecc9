"""The signed-in user's dashboard."""

from __future__ import annotations

from shared.http import Api

api = Api(tag="dashboard")
bp = api.blueprint
