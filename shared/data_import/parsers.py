"""Field parsers for the pilot's CSV values: each returns a clean value or raises `RowError`.

The error text is the rejection reason the operator reads next to `file:line`, so it names the
column and quotes the offending value. The formats are the pilot's export format: dates
`YYYY-MM-DD`, times `HH:MM`, booleans `True`/`False`, lists separated by `|`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

#: The pilot ran in Korea; a timestamp without an offset is Korea time (stored as UTC).
PILOT_TIMEZONE = timezone(timedelta(hours=9), "KST")
EARLIEST_BIRTH_DATE = date(1900, 1, 2)  # the schema's CHECK is birth_date > 1900-01-01
LIST_SEPARATOR = "|"
# Source ids end up in e-mail addresses (caregiver-<id>@import.invalid) and in the lookup table.
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n"})


class RowError(ValueError):
    """A row cannot be imported; the message is the reason shown to the operator."""


def _show(value: str) -> str:
    """The value quoted for a message, shortened so one bad cell cannot flood the report."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def text(value: str, column: str, *, required: bool = True, max_length: int = 500) -> str | None:
    """Stripped text; empty is None (or an error when required); longer than max_length fails."""
    value = value.strip()
    if not value:
        if required:
            raise RowError(f"missing {column}")
        return None
    if len(value) > max_length:
        raise RowError(f"{column} is longer than {max_length} characters")
    return value


def source_id(value: str, column: str) -> str:
    """A pilot id: letters, digits, `_`, `.` or `-`, at most 64 characters."""
    value = value.strip()
    if not value:
        raise RowError(f"missing {column}")
    if not _SOURCE_ID.match(value):
        raise RowError(f"bad {column} {_show(value)} (letters, digits, _ . - only)")
    return value


def date_value(value: str, column: str, *, required: bool = True) -> date | None:
    """A calendar date written `YYYY-MM-DD`."""
    value = value.strip()
    if not value:
        if required:
            raise RowError(f"missing {column}")
        return None
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(f"bad date in {column}: {_show(value)} (expected YYYY-MM-DD)") from None


def birth_date(
    value: str, column: str, *, required: bool = True, today: date | None = None
) -> date | None:
    """A date of birth: after 1900-01-01 and not in the future."""
    born = date_value(value, column, required=required)
    if born is None:
        return None
    if born < EARLIEST_BIRTH_DATE or born > (today or date.today()):
        raise RowError(f"bad date in {column}: {_show(value)} (before 1900 or in the future)")
    return born


@lru_cache(maxsize=4096)  # a national availability file repeats a few dozen times of day
def time_value(value: str, column: str) -> time:
    """A time of day written `HH:MM` (seconds allowed and kept)."""
    value = value.strip()
    if not value:
        raise RowError(f"missing {column}")
    try:
        if not _TIME.match(value):
            raise ValueError(value)
        hours, minutes, *seconds = (int(part) for part in value.split(":"))
        return time(hours, minutes, seconds[0] if seconds else 0)
    except ValueError:
        raise RowError(f"bad time in {column}: {_show(value)} (expected HH:MM)") from None


def timestamp(value: str, column: str) -> datetime | None:
    """An ISO 8601 date-time (or a bare date); without an offset it is Korea time. Empty: None."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(
            f"bad date in {column}: {_show(value)} (expected YYYY-MM-DD[ HH:MM[:SS]])"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PILOT_TIMEZONE)
    return moment.astimezone(UTC)


def boolean(value: str, column: str) -> bool:
    """`True` or `False` (any case; 1/0 and yes/no are accepted too)."""
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise RowError(f"bad boolean in {column}: {_show(value)} (expected True or False)")


def integer(value: str, column: str, *, low: int, high: int) -> int:
    """A whole number in [low, high]; `15,000` is read as 15000, `15000.0` as 15000."""
    cleaned = value.strip().replace(",", "")
    try:
        number_value = Decimal(cleaned)
        if number_value != number_value.to_integral_value():
            raise ValueError(value)
        result = int(number_value)
    except (InvalidOperation, ValueError):
        raise RowError(
            f"bad number in {column}: {_show(value)} (expected a whole number)"
        ) from None
    if not low <= result <= high:
        raise RowError(f"{column} {result} is out of range ({low}..{high})")
    return result


def decimal(
    value: str,
    column: str,
    *,
    low: float | None = None,
    high: float | None = None,
    places: int = 2,
    required: bool = False,
) -> Decimal | None:
    """A decimal number rounded to `places`, optionally in [low, high]; empty is None."""
    cleaned = value.strip()
    if not cleaned:
        if required:
            raise RowError(f"missing {column}")
        return None
    try:
        number_value = Decimal(cleaned)
        if not number_value.is_finite():
            raise InvalidOperation(value)
        number_value = number_value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise RowError(f"bad number in {column}: {_show(value)}") from None
    if (low is not None and number_value < Decimal(str(low))) or (
        high is not None and number_value > Decimal(str(high))
    ):
        raise RowError(f"{column} {number_value} is out of range ({low}..{high})")
    return number_value


@lru_cache(maxsize=4096)  # a national personality file repeats the same 101 scores
def score(value: str, column: str) -> int:
    """A personality axis, 0..100; decimals are rounded to the nearest whole number."""
    number_value = decimal(value, column, low=0, high=100, places=0, required=True)
    assert number_value is not None  # required=True
    return int(number_value)


def items(value: str) -> list[str]:
    """A `|`-separated list: items stripped, empty items dropped, order kept."""
    return [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
