"""How fresh the backups are (the readiness check, the health-check timer, the admin overview).

The operations guide promises an RPO of 15 minutes: the newest backup of any kind older than
30 minutes (two missed incrementals) is an error, and so is a newest full backup older than
26 hours (a missed night, with two hours' slack).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.backup import ops_records
from shared.db import Cursor

FULL_MAX_AGE = timedelta(hours=26)
LATEST_MAX_AGE = timedelta(minutes=30)


def backup_ages(cur: Cursor, now: datetime | None = None) -> dict[str, Any]:
    """Newest succeeded backups, their ages in seconds, the latest drill, and what is wrong."""
    now = now or datetime.now(UTC)
    newest = ops_records.latest_successes(cur)
    full, latest, incremental = newest["full"], newest["any"], newest["incremental"]

    def age(run: ops_records.BackupRunRow | None) -> float | None:
        if run is None or run["snapshot_at"] is None:
            return None
        return round((now - run["snapshot_at"]).total_seconds(), 1)

    result: dict[str, Any] = {
        "latest_full_id": full["backup_id"] if full else None,
        "latest_full_age_s": age(full),
        "latest_backup_id": latest["backup_id"] if latest else None,
        "latest_backup_age_s": age(latest),
        "latest_incremental_id": incremental["backup_id"] if incremental else None,
        "latest_incremental_age_s": age(incremental),
        "latest_drill": ops_records.latest_drill(cur),
    }
    result["problems"] = backup_problems(result)
    return result


def backup_problems(ages: dict[str, Any]) -> list[str]:
    problems = []
    full_age, latest_age = ages["latest_full_age_s"], ages["latest_backup_age_s"]
    if full_age is None:
        problems.append("no full backup has succeeded yet")
    elif full_age > FULL_MAX_AGE.total_seconds():
        problems.append(f"the newest full backup is {full_age / 3600:.1f} h old (limit 26 h)")
    if latest_age is not None and latest_age > LATEST_MAX_AGE.total_seconds():
        problems.append(f"the newest backup is {latest_age / 60:.0f} min old (limit 30 min)")
    return problems


def describe(ages: dict[str, Any]) -> str:
    """One line for /health/ready."""
    parts = []
    if ages["latest_full_age_s"] is not None:
        parts.append(f"full {ages['latest_full_age_s'] / 3600:.1f} h ago")
    if ages["latest_backup_age_s"] is not None:
        parts.append(f"newest {ages['latest_backup_age_s'] / 60:.0f} min ago")
    drill = ages.get("latest_drill")
    if drill:
        parts.append(f"last drill {drill['status']}")
    text = "; ".join(parts) or "no backups yet"
    if ages["problems"]:
        text += " — " + "; ".join(ages["problems"])
    return text
