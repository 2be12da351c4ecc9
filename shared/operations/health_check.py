"""The health-check timer's work: the readiness checks plus backup ages, stored as a snapshot.

The same checks as `GET /health/ready` (shared.health_checks registers them), plus how fresh
the backups are (shared.backup.status); each run's outcome is stored in `ops_health_snapshots`,
which `GET /api/admin/backups` shows as the latest health snapshot.
"""

from __future__ import annotations

from typing import Any

import shared.health_checks  # noqa: F401  (registers the readiness checks this runs)
from shared.backup import ops_records, status
from shared.health import run_readiness
from shared.unit_of_work import UnitOfWork


def health_check() -> dict[str, Any]:
    """The readiness checks plus backup ages, stored as the latest health snapshot.

    Returns {"status", "checks", "problems", "backups"}; `problems` lists everything wrong
    (failing checks and stale backups), so the timer logs at ERROR when it is not empty.
    """
    report = run_readiness()
    checks = {name: result.model_dump() for name, result in report.checks.items()}
    problems = [
        f"{name}: {result['status']}" + (f" ({result['detail']})" if result.get("detail") else "")
        for name, result in checks.items()
        if result["status"] == "down"
    ]
    ages: dict[str, Any] | None = None
    overall = report.status
    try:
        with UnitOfWork.for_job() as uow:
            ages = status.backup_ages(uow.cursor)
            problems.extend(f"backups: {problem}" for problem in ages["problems"])
            if ages["problems"] and overall == "healthy":
                overall = "degraded"
            ops_records.insert_health_snapshot(
                uow.cursor,
                status=overall,
                checks={**checks, "backups": _json_ready(ages)},
                problems=problems,
            )
    except Exception as exc:  # the database may be what is down; that is already a problem
        if not any(p.startswith("database") for p in problems):
            problems.append(f"health snapshot not stored: {type(exc).__name__}")
    return {"status": overall, "checks": checks, "problems": problems, "backups": ages}


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
