"""The PIPA access log as operators read it (`GET /api/admin/audit-events`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from models.common import BIGINT_MAX, PageQuery, ResponseModel


class AuditEventQuery(PageQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    patient_id: int | None = Field(
        None, ge=1, le=BIGINT_MAX, description="Only events about this patient."
    )
    actor_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="Only events by this user.")
    from_: datetime | None = Field(None, alias="from", description="Events at or after this.")
    to: datetime | None = Field(None, description="Events before this.")

    @field_validator("from_", "to")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """In UTC (a timestamp without an offset is read as UTC): PostgreSQL refuses offsets
        beyond 15:59, which ISO 8601 and Python allow (-17:39 answered 500), and an aware and a
        naive timestamp could not be compared."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("timestamp out of range") from None

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
