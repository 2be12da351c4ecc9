"""Reviews of completed matchings, and a caregiver's reviews."""

from __future__ import annotations

from shared.http import Api

api = Api(tag="reviews")
bp = api.blueprint
