"""Incidents: a fall, an injury, a refusal of care, a change of behaviour, suspected abuse or
neglect, a medical emergency; how severe, what was done, and the follow-up (API.md "Incidents").

Lengths repeat migration 0011's CHECKs (description 1-2000, actions and follow-up note <= 2000).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from models.common import ApiModel, PageQuery, ResponseModel
from models.visits import Id, Instant
from models.vocabularies import FollowUpStatus, IncidentKind, IncidentSeverity

LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]


class IncidentCreate(ApiModel):
    kind: IncidentKind
    severity: IncidentSeverity
    occurred_at: Instant = Field(description="When it happened (not in the future).")
    description: Description = Field(description="What happened (1-2000).")
    actions_taken: LongText | None = Field(None, description="What was done about it.")
    visit_id: Id | None = Field(None, description="The visit it happened in, if any.")


class IncidentUpdate(ApiModel):
    """The follow-up (operators): its status, a note, or both."""

    follow_up_status: FollowUpStatus | None = None
    follow_up_note: LongText | None = None

    @model_validator(mode="after")
    def _something(self) -> IncidentUpdate:
        if not self.model_fields_set & {"follow_up_status", "follow_up_note"}:
            raise ValueError("give follow_up_status, follow_up_note or both")
        if "follow_up_status" in self.model_fields_set and self.follow_up_status is None:
            raise ValueError("follow_up_status cannot be null")
        return self


class Incident(ResponseModel):
    incident_id: int
    patient_id: int
    visit_id: int | None
    reported_by: int | None
    reporter_role: str | None = Field(description="caregiver or admin (who reported it).")
    kind: IncidentKind
    kind_label: str = Field(description="Korean label, e.g. 낙상.")
    severity: IncidentSeverity
    severity_label: str = Field(description="Korean label, e.g. 심각.")
    occurred_at: datetime
    description: str
    actions_taken: str | None
    follow_up_status: FollowUpStatus
    follow_up_label: str = Field(description="Korean label, e.g. 조치 중.")
    follow_up_note: str | None
    created_at: datetime
    updated_at: datetime


class IncidentsQuery(PageQuery):
    follow_up_status: FollowUpStatus | None = None
