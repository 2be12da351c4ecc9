"""When a notification is tried: the doubling backoff with its cap, and quiet hours in the
recipient's time zone (across midnight, none when start equals end, an unknown zone as Seoul)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from shared.notifications.schedule import in_quiet_hours, quiet_until, retry_delay


def test_backoff_doubles_from_the_base_up_to_the_cap():
    assert [retry_delay(n, 30, 3600) for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip
    assert retry_delay(0, 30, 3600) == 30
    assert retry_delay(10_000, 30, 3600) == 3600


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(6, 59), True),
        (time(7, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_across_midnight(local, quiet):
    assert in_quiet_hours(local, time(22), time(7)) is quiet


def test_quiet_hours_within_a_day_and_none():
    assert in_quiet_hours(time(13), time(12), time(14)) is True
    assert in_quiet_hours(time(14), time(12), time(14)) is False
    assert in_quiet_hours(time(3), time(0), time(0)) is False


def test_quiet_until_is_the_next_end_in_the_recipients_zone():
    # 23:30 in Seoul (14:30 UTC): quiet until 07:00 Seoul the next day (22:00 UTC).
    now = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
    assert quiet_until(now, time(22), time(7), "Asia/Seoul") == datetime(
        2026, 12, 4, 22, 0, tzinfo=UTC
    )
    # 02:00 in Seoul (17:00 UTC the day before): the same morning's 07:00.
    now = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
    assert quiet_until(now, time(22), time(7), "Asia/Seoul") == datetime(
        2026, 12, 4, 22, 0, tzinfo=UTC
    )
    # Noon in Seoul: not quiet.
    assert quiet_until(datetime(2026, 12, 4, 3, 0, tzinfo=UTC), time(22), time(7), None) is None


def test_quiet_until_in_another_zone_and_an_unknown_zone():
    # 23:00 in New York (04:00 UTC next day, winter UTC-5): until 07:00 there, 12:00 UTC.
    now = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    assert quiet_until(now, time(22), time(7), "America/New_York") == datetime(
        2026, 12, 5, 12, 0, tzinfo=UTC
    )
    # An unknown zone is read as Seoul rather than failing the send.
    now = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
    assert quiet_until(now, time(22), time(7), "Nowhere/Else") == datetime(
        2026, 12, 4, 22, 0, tzinfo=UTC
    )
