"""Dates as the care happens: in Korea. Storage is UTC; "today", ages and schedule dates are
Korea's (Asia/Seoul, UTC+9 all year)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _korea_zone() -> tzinfo:
    try:
        return ZoneInfo("Asia/Seoul")
    except ZoneInfoNotFoundError:  # no tz database on the host: Korea is UTC+9 without DST
        return timezone(timedelta(hours=9), "KST")


KOREA = _korea_zone()


def korea_today(now: datetime | None = None) -> date:
    """Today's date in Korea."""
    return (now or datetime.now(UTC)).astimezone(KOREA).date()


def age_on(birth_date: date, today: date) -> int:
    """Full years lived on `today` (만 나이); a 29 February birthday counts from 1 March."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)
