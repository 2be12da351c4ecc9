"""Timer schedules as the Functions host reads them: NCRONTAB with seconds, and ``%Setting%``.

The host parses a timer's schedule with NCrontab (six fields: second minute hour day month
day-of-week) after replacing ``%NAME%`` with the app setting NAME, and refuses to index the
function when either fails. croniter was considered: it accepts syntax NCrontab refuses (``L``,
``W``, ``#``, ``?``, ``@daily``, 7 for Sunday), so a schedule it passed could still fail in Azure;
this strict parser accepts exactly NCrontab's grammar:

- each field a comma-separated list of ``*``, ``N``, ``N-M``, each optionally ``/STEP``
  (``N/STEP`` runs from N to the field's maximum);
- months ``1-12`` or ``jan``-``dec``, days of the week ``0-6`` (Sunday is 0) or ``sun``-``sat``
  (names match on their first three letters, any case).

A TimeSpan schedule (``00:05:00``) is refused: it works only on a dedicated App Service plan,
never on the Flex Consumption plan this app runs on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_SETTING = re.compile(r"%([^%]+)%")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(ValueError):
    """The schedule does not resolve or does not parse; the message says which part."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name_value: int = 0


_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day of week", 0, 6, _DAYS, 0),
)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the values each field allows."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]


def resolve_settings(text: str, settings: Mapping[str, str]) -> str:
    """Replace each ``%NAME%`` with the app setting NAME; raise when one is not set."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = settings.get(name)
        if found is None:  # app settings are case-insensitive in the host
            found = next((v for k, v in settings.items() if k.lower() == name.lower()), None)
        if found is None or not found.strip():
            raise ScheduleError(f"'%{name}%' does not resolve to a value (app setting {name})")
        return found

    return _SETTING.sub(value, text)


def substitute_known_settings(text: str, settings: Mapping[str, str]) -> str:
    """Replace each ``%NAME%`` whose setting is set; leave the others as written (listings)."""
    return _SETTING.sub(lambda match: settings.get(match.group(1), match.group(0)), text)


def parse_ncrontab(expression: str) -> Schedule:
    """Parse a six-field NCRONTAB expression or raise ScheduleError naming the bad field."""
    text = expression.strip()
    if ":" in text:
        raise ScheduleError(
            f"{text!r} is a TimeSpan schedule, which only an App Service plan runs; "
            "write it as six NCRONTAB fields"
        )
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise ScheduleError(
            f"{text!r} has {len(parts)} fields; NCRONTAB needs six "
            "(second minute hour day month day-of-week)"
        )
    values = [_parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    return Schedule(" ".join(parts), *values)


def _parse_field(text: str, spec: _Field) -> frozenset[int]:
    allowed: set[int] = set()
    for item in text.split(","):
        allowed.update(_parse_item(item, spec, text))
    return frozenset(allowed)


def _parse_item(item: str, spec: _Field, field_text: str) -> range:
    def fail(reason: str) -> ScheduleError:
        return ScheduleError(f"{spec.name} field {field_text!r}: {reason}")

    if not item:
        raise fail("empty list item")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise fail(f"step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    first_text, dash, last_text = base.partition("-")
    first = _parse_value(first_text, spec, fail)
    if dash:
        last = _parse_value(last_text, spec, fail)
        if last < first:
            raise fail(f"range {base!r} runs backwards")
    else:
        last = spec.high if slash else first
    return range(first, last + 1, step)


def _parse_value(text: str, spec: _Field, fail: Callable[[str], ScheduleError]) -> int:
    if text.isdigit():
        number = int(text)
        if not spec.low <= number <= spec.high:
            raise fail(f"{number} is outside {spec.low}-{spec.high}")
        return number
    if spec.names and len(text) >= 3 and text.isalpha():
        prefix = text[:3].lower()
        if prefix in spec.names:
            return spec.names.index(prefix) + spec.first_name_value
    expected = f"{spec.low}-{spec.high}"
    if spec.names:
        expected += f" or {spec.names[0]}-{spec.names[-1]}"
    raise fail(f"{text!r} is not a value ({expected})")


def check_timer_schedule(function_name: str, schedule: str, settings: Mapping[str, str]) -> str:
    """The resolved schedule of a timer, or ScheduleError naming the function (start-up)."""
    try:
        resolved = resolve_settings(schedule, settings)
        return parse_ncrontab(resolved).expression
    except ScheduleError as error:
        raise ScheduleError(
            f"The timer function '{function_name}' cannot be indexed: its schedule "
            f"{schedule!r} is invalid: {error}"
        ) from None
