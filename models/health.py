"""Bodies of `/health` and `/health/ready`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

CheckStatus = Literal["ok", "degraded", "down", "disabled"]
OverallStatus = Literal["healthy", "degraded", "unhealthy"]


class Liveness(BaseModel):
    status: Literal["healthy"] = "healthy"
    timestamp: datetime
    version: str


class CheckResult(BaseModel):
    status: CheckStatus
    latency_ms: float = Field(ge=0)
    detail: str | None = None


class Readiness(BaseModel):
    status: OverallStatus
    timestamp: datetime
    version: str
    checks: dict[str, CheckResult] = Field(
        description="database, blob_storage, key_vault, matching_model, openai, backups"
    )


class ReadinessStatus(BaseModel):
    """What `/health/ready` tells a caller without an admin's token: the overall status only
    (the checks name hosts and ports, backup ages and the model version)."""

    status: OverallStatus
