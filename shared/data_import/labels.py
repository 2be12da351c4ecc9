"""The pilot's labels -> our codes, through the vocabularies in models/vocabularies.py.

The pilot wrote the Korean labels of the vocabulary table (`3등급`, `요양보호사 1급`, `저염식`),
English words for gender (`Male`/`Female`) and days (`Mon`..`Sun`). Every mapper also accepts the
code itself, so a file already in codes imports too. An unknown label raises `RowError` naming
the column and the value; nothing is guessed.
"""

from __future__ import annotations

import re
from functools import cache

from models.vocabularies import (
    REGION_CODE_PATTERN,
    Allergen,
    CareLevel,
    Certification,
    Condition,
    Day,
    DietType,
    Gender,
    Grade,
    LabeledEnum,
    MatchingStatus,
    Role,
    Specialty,
)
from shared.data_import.parsers import RowError, items

_REGION = re.compile(REGION_CODE_PATTERN)
_ENGLISH_GENDERS = {
    "male": Gender.MALE,
    "m": Gender.MALE,
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
}
_KOREAN_GENDERS = {"남": Gender.MALE, "여": Gender.FEMALE}
_REVIEWER_ALIASES = {"간병인": Role.CAREGIVER}


@cache
def _lookup(vocabulary: type[LabeledEnum]) -> dict[str, str]:
    """label or code -> code, as `LabeledEnum.from_label` matches them (built once: an import
    maps tens of thousands of cells, and from_label scans every member each time)."""
    table: dict[str, str] = {}
    for member in vocabulary:
        table.setdefault(member.value, member.value)
        table.setdefault(member.label, member.value)
    return table


def code(vocabulary: type[LabeledEnum], value: str, column: str) -> str:
    """The code whose Korean label (or code, in any case) is `value`."""
    text = value.strip()
    if not text:
        raise RowError(f"missing {column}")
    table = _lookup(vocabulary)
    found = table.get(text) or table.get(text.lower())
    if found is None:
        raise RowError(f"unknown label in {column}: {text!r}")
    return found


def codes(vocabulary: type[LabeledEnum], value: str, column: str) -> list[str]:
    """A `|`-separated list of labels -> distinct codes in first-seen order (empty list ok)."""
    result: list[str] = []
    for item in items(value):
        mapped = code(vocabulary, item, column)
        if mapped not in result:
            result.append(mapped)
    return result


def gender(value: str, column: str = "gender", *, required: bool = True) -> str | None:
    """`Male`/`Female` (also `M`/`F`, 남성/여성, 남/여, the codes)."""
    text = value.strip()
    if not text and not required:
        return None
    mapped = _ENGLISH_GENDERS.get(text.lower()) or _KOREAN_GENDERS.get(text)
    return str(mapped) if mapped else code(Gender, text, column)


def day(value: str, column: str = "day_of_week") -> str:
    """`Mon`..`Sun` (any case; also 월..일 and `Monday`..)."""
    text = value.strip()
    try:
        return code(Day, text[:3] if text.isascii() and len(text) > 3 else text, column)
    except RowError:
        raise RowError(f"unknown label in {column}: {text!r}") from None


def care_level(value: str, column: str = "care_level") -> str:
    """`1등급`..`5등급`, `인지지원등급`, `등급외`; empty means `none` (no grade)."""
    if not value.strip():
        return str(CareLevel.NONE)
    return code(CareLevel, value, column)


def condition(value: str, column: str = "disease_name") -> str:
    return code(Condition, value, column)


def certifications(value: str, column: str = "certifications") -> list[str]:
    return codes(Certification, value, column)


def specialties(value: str, column: str = "specialties") -> list[str]:
    return codes(Specialty, value, column)


def diet_type(value: str, column: str = "restriction_foods") -> str:
    """One diet type label; empty means `regular` (일반식)."""
    if not value.strip():
        return str(DietType.REGULAR)
    return code(DietType, value, column)


def allergens(value: str, column: str = "allergy_foods") -> list[str]:
    return codes(Allergen, value, column)


def matching_status(value: str, column: str = "status") -> str:
    return code(MatchingStatus, value, column)


def reviewer_role(value: str, column: str = "reviewer_type") -> str:
    """`guardian`/`caregiver` or 보호자/요양보호사/간병인; never `admin`."""
    text = value.strip()
    mapped = _REVIEWER_ALIASES.get(text) or code(Role, text, column)
    if mapped == Role.ADMIN:
        raise RowError(f"unknown label in {column}: {text!r}")
    return str(mapped)


def grade(value: str, column: str = "grade") -> str:
    """`A+`, `A`, `B+`, `B` or `C`."""
    text = value.strip().upper()
    try:
        return str(Grade(text))
    except ValueError:
        raise RowError(f"unknown label in {column}: {value.strip()!r}") from None


def region(value: str, column: str) -> str:
    """A region code in code form, e.g. SEOUL_GANGNAM (PROVINCE_DISTRICT, capitals)."""
    text = value.strip()
    if not text:
        raise RowError(f"missing {column}")
    if not _REGION.match(text):
        raise RowError(f"unknown region code in {column}: {text!r} (expected e.g. SEOUL_GANGNAM)")
    return text
