"""Where each care-log category goes on the monthly visit record (급여제공기록지): the one place
that says so.

Source: the home-visit care (방문요양) record of the long-term care insurance (급여제공기록지,
the form attached to the Enforcement Rule of the Long-Term Care Insurance Act for the Elderly),
whose activity rows are grouped into 신체활동지원 (physical support: meals, medication help,
washing and hygiene, moving and exercise, checking vital signs), 인지·정서지원 (cognitive and
emotional support) and 가사 및 일상생활지원 (housework and daily living). Our care-log
categories are coarser than the form's rows, so each category is placed in the section that
holds its rows; `other` is the housework and daily-living help the other categories do not name.

The form is revised by notice from time to time: a revision is a new `Layout` with the first
month it applies to, appended to LAYOUTS; a month's record uses the newest layout in force on its
first day, so records of earlier months keep the layout they were made with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.vocabularies import CareLogCategory


@dataclass(frozen=True)
class Section:
    code: str
    label: str
    categories: tuple[CareLogCategory, ...]


@dataclass(frozen=True)
class Layout:
    name: str
    effective_from: date
    sections: tuple[Section, ...]


LAYOUTS: tuple[Layout, ...] = (
    Layout(
        name="2026-home-visit-care",
        # The only layout so far: it applies to every month the platform has records for.
        effective_from=date(2000, 1, 1),
        sections=(
            Section(
                "physical_support",
                "신체활동지원",
                (
                    CareLogCategory.MEAL,
                    CareLogCategory.MEDICATION,
                    CareLogCategory.HYGIENE,
                    CareLogCategory.EXERCISE,
                    CareLogCategory.VITAL_CHECK,
                ),
            ),
            Section("cognitive_emotional_support", "인지·정서지원", (CareLogCategory.COGNITIVE,)),
            Section("daily_living_support", "가사 및 일상생활지원", (CareLogCategory.OTHER,)),
        ),
    ),
)


def first_month() -> date:
    """The first day of the first month any layout is in force (no record exists before)."""
    return min(layout.effective_from for layout in LAYOUTS)


def layout_for(month: date) -> Layout:
    """The newest layout in force on the month's first day."""
    in_force = [layout for layout in LAYOUTS if layout.effective_from <= month]
    if not in_force:
        raise ValueError(f"no visit-record layout is in force for {month:%Y-%m}")
    return max(in_force, key=lambda layout: layout.effective_from)


def section_of(layout: Layout, category: str) -> Section:
    """The section a care-log category belongs to (every category has exactly one)."""
    for section in layout.sections:
        if category in section.categories:
            return section
    raise ValueError(f"care-log category {category!r} has no section in layout {layout.name}")
