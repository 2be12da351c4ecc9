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


class RestoreDrill(ResponseModel):
    drill_id: int
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    rto_seconds: float | None = Field(None, description="Measured time to restore and verify.")
    tables: int | None = None
    rows: int | None = None
    mismatches: Any = None
    error: str | None = None


class BackupRun(ResponseModel):
    backup_id: str
    kind: Literal["full", "incremental"]
    status: str = Field(
        description="queued, running, abandoned (running, but its worker stopped renewing the "
        "lease: it died; the job is started over or settled by the next backup), succeeded or "
        "failed."
    )
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    bytes: int | None = None
    rows: int | None = None
    tables: int | None = None
    error: str | None = None
    snapshot_at: datetime | None = None
    base_backup_id: str | None = None
    requested_by: str | None = None
    pruned: bool = False
    queued_at: datetime | None = Field(
        None, description="When a job on demand was accepted; null for a timer's run."
    )
    attempts: int = Field(0, description="How many times a worker started this run.")
    worker: str | None = Field(None, description="The worker running it (or that ran it last).")
    lease_expires_at: datetime | None = Field(
        None, description="While running: the worker's lease, renewed by its heartbeat."
    )
    latest_drill: RestoreDrill | None = None
    drills: list[RestoreDrill] = Field(default_factory=list)


class BackupList(ResponseModel):
    items: list[BackupRun]
    total: int
    overview: dict[str, Any] = Field(
        description="Ages of the newest backups, what is wrong, the latest drill and health check."
    )


class BackupStarted(ResponseModel):
    """A backup job accepted: queued for a worker (GET /api/admin/backups shows its outcome)."""

    backup_id: str = Field(description="The job's id, which is also the backup's.")
    status: str = Field(description="queued.")
    kind: str = "full"
    queued_at: datetime | None = None
