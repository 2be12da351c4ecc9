"""When to try a delivery: the retry backoff and the recipient's quiet hours (pure functions).

- `retry_delay(attempts, base, cap)`: after the n-th failed attempt wait `base * 2**(n-1)`
  seconds, at most `cap` (30 s, 1 min, 2 min, ... with the defaults). No jitter: the sweep
  already spreads rows over minutes, and tests can say exactly when a row is due.
- `quiet_until(now, start, end, zone)`: the end of the quiet hours `now` falls in, or None.
  Quiet hours are local times in the recipient's time zone; `start > end` crosses midnight
  (22:00-07:00), `start == end` means none. A day-light-saving gap is resolved by zoneinfo.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Seoul"


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after `attempts` failed attempts (1 is the first failure)."""
    exponent = max(attempts - 1, 0)
    if exponent >= 40:  # 2**40 * base is beyond any cap; avoid float overflow
        return cap
    return float(min(base * (2**exponent), cap))


def zone(name: str | None) -> ZoneInfo:
    """The recipient's zone; Asia/Seoul for a missing or unknown name."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_until(now: datetime, start: time, end: time, zone_name: str | None) -> datetime | None:
    """The instant (UTC) the quiet hours around `now` end, or None when `now` is not in them."""
    tz = zone(zone_name)
    local = now.astimezone(tz)
    if not in_quiet_hours(local.time().replace(tzinfo=None), start, end):
        return None
    end_day = local.date()
    if local.time().replace(tzinfo=None) >= end:  # before midnight: the quiet hours end tomorrow
        end_day += timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)
