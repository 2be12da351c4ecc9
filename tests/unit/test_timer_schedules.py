"""The weekly jobs that need the database for a while (restore drill, maintenance) run outside
PostgreSQL's own maintenance window, after the nightly backup, in the early Korean morning."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from functions.timers import MAINTENANCE_SCHEDULE, RESTORE_DRILL_SCHEDULE
from shared.config import Settings

REPO = Path(__file__).resolve().parents[2]
SERVER_BICEP = REPO / "infra" / "core" / "database" / "postgresql-flexible-server.bicep"
#: Azure starts a custom window's maintenance within the hour it names.
WINDOW_LENGTH = timedelta(hours=1)
SLACK = timedelta(minutes=30)
KST = timedelta(hours=9)


def weekly_start(ncrontab: str) -> timedelta:
    """Time since Sunday 00:00 UTC of a once-a-week NCRONTAB (second minute hour * * weekday)."""
    second, minute, hour, day, month, weekday = ncrontab.split()
    assert (day, month) == ("*", "*")
    assert weekday.isdigit()
    return timedelta(days=int(weekday), hours=int(hour), minutes=int(minute), seconds=int(second))


def maintenance_window() -> tuple[timedelta, timedelta]:
    text = SERVER_BICEP.read_text(encoding="utf-8")
    block = text[text.index("maintenanceWindow") :]
    day, hour, minute = (
        int(re.search(rf"{field}:\s*(\d+)", block).group(1))  # type: ignore[union-attr]
        for field in ("dayOfWeek", "startHour", "startMinute")
    )
    start = timedelta(days=day, hours=hour, minutes=minute)
    return start, start + WINDOW_LENGTH


def test_drill_and_maintenance_start_after_the_servers_maintenance_window():
    window_start, window_end = maintenance_window()
    for schedule in (RESTORE_DRILL_SCHEDULE, MAINTENANCE_SCHEDULE):
        start = weekly_start(schedule)
        assert not window_start - SLACK <= start < window_end + SLACK, schedule


def test_they_run_early_monday_in_korea_after_the_nightly_backup():
    _, minute, hour, *_ = Settings.model_fields["backup_schedule"].default.split()
    nightly = timedelta(hours=int(hour), minutes=int(minute))
    for schedule in (RESTORE_DRILL_SCHEDULE, MAINTENANCE_SCHEDULE):
        start = weekly_start(schedule)
        assert start % timedelta(days=1) > nightly, schedule
        korean = start + KST
        assert korean // timedelta(days=1) == 1, schedule  # Monday in Korea
        assert korean % timedelta(days=1) < timedelta(hours=7), schedule  # before the day starts
