"""Dates as the care happens: in Korea. Storage is UTC; "today" and ages are Korea's."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

KOREA = ZoneInfo("Asia/Seoul")


def korea_today() -> date:
    """Today's date in Korea (a schedule for "today" means Korea's today)."""
    return datetime.now(KOREA).date()


def age_on(birth_date: date, today: date) -> int:
    """Full years between birth and `today` (Korean international age, 만 나이)."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday
