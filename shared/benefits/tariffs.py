"""The long-term-care tariffs in force on a day: a `TariffBook` of effective-dated rows (pure).

Built by the repository from the `ltc_*` tables (shared.benefits.repository.read_tariffs), or
from the data files the migration loads (`TariffBook.from_data_files()`, what the golden tests
use), so both read the same figures. Every lookup takes the day it applies to: a row applies
when `effective_from <= day < effective_to` (an open `effective_to` never ends).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, TypeVar

DATA_DIR = Path(__file__).resolve().parent / "data"

R = TypeVar("R", bound="Effective")


@dataclass(frozen=True)
class Effective:
    effective_from: date
    effective_to: date | None
    source: str
    verified: bool

    def applies(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


@dataclass(frozen=True)
class CapRow(Effective):
    grade: str = ""
    amount_won: int = 0


@dataclass(frozen=True)
class FeeRow(Effective):
    service: str = ""
    min_minutes: int = 0
    amount_won: int = 0


@dataclass(frozen=True)
class SurchargeRow(Effective):
    service: str = ""
    kind: str = ""
    percent: int = 0
    window_start: time | None = None
    window_end: time | None = None

    def covers(self, moment: time) -> bool:
        """Whether a time of day lies in the window (a window past midnight wraps)."""
        if self.window_start is None or self.window_end is None:
            return False
        if self.window_start < self.window_end:
            return self.window_start <= moment < self.window_end
        return moment >= self.window_start or moment < self.window_end


@dataclass(frozen=True)
class EntitlementRow(Effective):
    grade: str = ""
    service: str = ""
    entitled: bool = False


@dataclass(frozen=True)
class FamilyLimitRow(Effective):
    max_minutes_per_day: int = 0
    max_days_per_month: int = 0
    exceptions: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RoundingRow(Effective):
    target: str = ""
    unit_won: int = 1
    mode: str = "floor"
    description: str = ""


@dataclass(frozen=True)
class Holiday:
    holiday_date: date
    name: str
    substitute: bool
    source: str
    verified: bool


class MissingTariffError(LookupError):
    """No row of this kind is in force on that day (the data files need a new year's rows)."""


@dataclass(frozen=True)
class TariffBook:
    caps: tuple[CapRow, ...] = ()
    fees: tuple[FeeRow, ...] = ()
    surcharges: tuple[SurchargeRow, ...] = ()
    entitlements: tuple[EntitlementRow, ...] = ()
    family_limits: tuple[FamilyLimitRow, ...] = ()
    rounding: tuple[RoundingRow, ...] = ()
    holidays: dict[date, Holiday] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------

    def cap(self, grade: str, day: date) -> CapRow | None:
        return _one(r for r in self.caps if r.grade == grade and r.applies(day))

    def fee_bands(self, service: str, day: date) -> list[FeeRow]:
        """The service's bands in force, longest first."""
        rows = [r for r in self.fees if r.service == service and r.applies(day)]
        return sorted(rows, key=lambda r: r.min_minutes, reverse=True)

    def band(self, service: str, minutes: int, day: date) -> FeeRow | None:
        """The longest band the minutes reach (None: shorter than the shortest band)."""
        return next((r for r in self.fee_bands(service, day) if minutes >= r.min_minutes), None)

    def surcharges_on(self, service: str, day: date) -> list[SurchargeRow]:
        return [r for r in self.surcharges if r.service == service and r.applies(day)]

    def is_holiday(self, day: date) -> bool:
        """Sundays and the public holidays of the data (대체공휴일 included)."""
        return day.weekday() == 6 or day in self.holidays

    def entitled(self, grade: str, service: str, day: date) -> bool:
        """Entitled only when a row in force says so."""
        row = _one(
            r for r in self.entitlements if r.grade == grade and r.service == service
            and r.applies(day)
        )  # fmt: skip
        return bool(row and row.entitled)

    def family_limit(self, day: date) -> FamilyLimitRow | None:
        return _one(r for r in self.family_limits if r.applies(day))

    def rounding_rule(self, target: str, day: date) -> RoundingRow:
        row = _one(r for r in self.rounding if r.target == target and r.applies(day))
        if row is None:
            raise MissingTariffError(f"no rounding rule for {target} on {day}")
        return row

    # -- from the data files -----------------------------------------------------------------

    @classmethod
    def from_data_files(cls, data_dir: Path = DATA_DIR) -> TariffBook:
        """The book the migration loads, read straight from the versioned data files."""

        def rows(name: str) -> list[dict[str, Any]]:
            document = json.loads((data_dir / name).read_text(encoding="utf-8"))
            return list(document["rows"])

        return cls(
            caps=tuple(CapRow(**_effective(r), grade=r["grade"], amount_won=r["amount_won"])
                       for r in rows("monthly_caps.json")),
            fees=tuple(FeeRow(**_effective(r), service=r["service"],
                              min_minutes=r["min_minutes"], amount_won=r["amount_won"])
                       for r in rows("visit_fees.json")),
            surcharges=tuple(SurchargeRow(**_effective(r), service=r["service"], kind=r["kind"],
                                          percent=r["percent"],
                                          window_start=_time(r["window_start"]),
                                          window_end=_time(r["window_end"]))
                             for r in rows("surcharges.json")),
            entitlements=tuple(EntitlementRow(**_effective(r), grade=r["grade"],
                                              service=r["service"], entitled=r["entitled"])
                               for r in rows("entitlements.json")),
            family_limits=tuple(FamilyLimitRow(**_effective(r),
                                               max_minutes_per_day=r["max_minutes_per_day"],
                                               max_days_per_month=r["max_days_per_month"],
                                               exceptions=tuple(r["exceptions"]))
                                for r in rows("family_caregiver_limits.json")),
            rounding=tuple(RoundingRow(**_effective(r), target=r["target"], unit_won=r["unit_won"],
                                       mode=r["mode"], description=r["description"])
                           for r in rows("rounding.json")),
            holidays={
                date.fromisoformat(r["holiday_date"]): Holiday(
                    date.fromisoformat(r["holiday_date"]), r["name"], r["substitute"],
                    r["source"], r["verified"])
                for r in rows("holidays.json")
            },
        )  # fmt: skip


def _one(rows: Iterable[R]) -> R | None:
    """The single row in force (the newest `effective_from` if the data overlap)."""
    found = sorted(rows, key=lambda r: r.effective_from, reverse=True)
    return found[0] if found else None


def _effective(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "effective_from": _date(row["effective_from"]),
        "effective_to": _date(row.get("effective_to")),
        "source": row["source"],
        "verified": bool(row.get("verified", False)),
    }


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _time(value: Any) -> time | None:
    if value is None or isinstance(value, time):
        return value
    return time.fromisoformat(str(value))
