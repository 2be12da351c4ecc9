"""Operator views: the serving matching model and the backups."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from models.common import ResponseModel


class ModelStatus(ResponseModel):
    """What `GET /api/admin/model` reports about the serving matching model."""

    kind: Literal["xgboost", "rules"]
    version: str
    metrics: dict[str, Any] = Field(default_factory=dict)
    loaded_at: datetime | None = None
    source: str | None = Field(None, description="blob, disk-cache or fallback.")
    detail: str | None = None
