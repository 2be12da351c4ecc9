"""The PIPA access log as operators read it (`GET /api/admin/audit-events`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from models.common import BIGINT_MAX, PageQuery, ResponseModel


class AuditEventQuery(PageQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    patient_id: int | None = Field(
        None, ge=1, le=BIGINT_MAX, description="Only events about this patient."
    )
    actor_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="Only events by this user.")
    from_: datetime | None = Field(None, alias="from", description="Events at or after this.")
    to: datetime | None = Field(None, description="Events before this.")

    @model_validator(mode="after")
    def _ordered(self) -> AuditEventQuery:
        if self.from_ and self.to and self.to <= self.from_:
            raise ValueError("'to' must be later than 'from'")
        return self


class AuditEvent(ResponseModel):
    event_id: int
    occurred_at: datetime
    actor_user_id: int | None
    actor_role: str | None
    action: Literal["view", "create", "update", "delete", "export"]
    patient_id: int | None
    resource_type: str
    resource_id: str | None
    request_id: str | None
    client_ip: str | None
    detail: dict[str, Any] | None = None
