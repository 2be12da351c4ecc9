"""Timer schedules as the Functions host parses them: six-field NCRONTAB and %Setting%."""

from __future__ import annotations

import pytest

from devtools.functions_host.ncrontab import (
    ScheduleError,
    check_timer_schedule,
    parse_ncrontab,
    resolve_settings,
)


def test_every_schedule_of_the_app_parses() -> None:
    from functions import timers

    for schedule in (
        timers.INCREMENTAL_SCHEDULE,
        timers.HEALTH_CHECK_SCHEDULE,
        timers.RESTORE_DRILL_SCHEDULE,
        timers.MAINTENANCE_SCHEDULE,
        timers.MODEL_REFRESH_SCHEDULE,
        "0 0 18 * * *",  # BACKUP_SCHEDULE's default
    ):
        assert parse_ncrontab(schedule).expression == schedule


def test_fields_expand_like_ncrontab() -> None:
    schedule = parse_ncrontab("*/20 5-7,30 1-10/3 1-2 * *")
    assert schedule.seconds == {0, 20, 40}
    assert schedule.minutes == {5, 6, 7, 30}
    assert schedule.hours == {1, 4, 7, 10}
    assert schedule.days == {1, 2}
    assert schedule.months == set(range(1, 13))
    assert schedule.weekdays == set(range(7))


def test_names_steps_and_open_ranges() -> None:
    schedule = parse_ncrontab("30 5/20 0 1,15 jan,Mar-apr Mon-FRI")
    assert schedule.seconds == {30}
    assert schedule.minutes == {5, 25, 45}  # N/STEP runs to the field's end
    assert schedule.days == {1, 15}
    assert schedule.months == {1, 3, 4}
    assert schedule.weekdays == {1, 2, 3, 4, 5}
    assert parse_ncrontab("0 0 0 * * sunday").weekdays == {0}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 */5 * * *", "has 5 fields"),  # five-field cron: no seconds
        ("0 0 0 * * * *", "has 7 fields"),
        ("60 * * * * *", "second field '60': 60 is outside 0-59"),
        ("0 0 24 * * *", "hour field '24'"),
        ("0 0 0 0 * *", "day field '0'"),
        ("0 0 0 * 13 *", "month field '13'"),
        ("0 0 0 * * 7", "7 is outside 0-6"),  # croniter takes 7 for Sunday; NCrontab does not
        ("0 0 0 L * *", "'L' is not a value"),
        ("0 0 0 ? * *", "'?' is not a value"),
        ("0 0 0 * * 1#2", "'1#2' is not a value"),
        ("0 */0 * * * *", "step '0'"),
        ("0 10-5 * * * *", "runs backwards"),
        ("0 1,,2 * * * *", "empty list item"),
        ("0 0 0 * * funday", "'funday' is not a value"),
        ("@daily", "has 1 fields"),
        ("00:05:00", "TimeSpan schedule"),
    ],
)
def test_what_ncrontab_refuses_is_refused(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message.replace("?", r"\?").replace("*", r"\*")):
        parse_ncrontab(expression)


def test_settings_resolve_case_insensitively_and_unset_ones_are_named() -> None:
    assert resolve_settings("%backup_schedule%", {"BACKUP_SCHEDULE": "0 0 18 * * *"}) == (
        "0 0 18 * * *"
    )
    with pytest.raises(ScheduleError, match=r"'%NOPE%' does not resolve"):
        resolve_settings("%NOPE%", {})
    with pytest.raises(ScheduleError, match="NOPE"):
        resolve_settings("%NOPE%", {"NOPE": "  "})


def test_a_bad_schedule_names_the_function() -> None:
    settings = {"SCHEDULE": "0 0 25 * * *"}
    with pytest.raises(ScheduleError) as error:
        check_timer_schedule("nightly_backup", "%SCHEDULE%", settings)
    message = str(error.value)
    assert "'nightly_backup'" in message
    assert "hour field '25'" in message
    assert check_timer_schedule("t", "%SCHEDULE%", {"SCHEDULE": "0 0 3 * * *"}) == "0 0 3 * * *"
