"""Integrity errors from PostgreSQL as API errors: the one translation every unit of work uses.

The request models repeat every CHECK the schema has, so these errors are the last line of
defence (and the answer to races). Each area registers what its constraints mean to a caller
(`register_constraints`, next to the area's SQL in its repository module): the field a CHECK
or NOT NULL guards, or what a UNIQUE or FOREIGN KEY violation means. A constraint nobody
registered still gets a sound answer: 422 naming the column PostgreSQL names (or the one in
the `<table>_<column>_check` name it generates), 409 for uniqueness and references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg2
import psycopg2.errors

from shared.errors import AppError, ConflictError, FieldError, ValidationFailedError

#: What a refused value is told when its constraint names no message of its own.
REFUSED_VALUE = "is not allowed here (out of range, malformed or missing)"
#: What a caller is told when a uniqueness or reference constraint refused its change.
CONCURRENT_CHANGE = "The data was changed at the same time by another request; try again."


@dataclass(frozen=True)
class FieldRule:
    """A CHECK or NOT NULL constraint: the request field it guards."""

    field: str
    message: str = REFUSED_VALUE


@dataclass(frozen=True)
class ConflictRule:
    """A UNIQUE, EXCLUDE or FOREIGN KEY constraint: what its violation means (409)."""

    message: str


Rule = FieldRule | ConflictRule

_RULES: dict[str, Rule] = {}


def register_constraints(rules: Mapping[str, Rule]) -> None:
    """Declare what some constraints (by their PostgreSQL name) mean to a caller."""
    for name, rule in rules.items():
        known = _RULES.get(name)
        if known is not None and known != rule:
            raise ValueError(f"constraint {name} is registered twice with different meanings")
        _RULES[name] = rule


def translate(exc: psycopg2.IntegrityError) -> AppError:
    """The API error for an integrity error (always an AppError: 422 or 409)."""
    diag = exc.diag
    constraint = diag.constraint_name or ""
    rule = _RULES.get(constraint)
    if isinstance(rule, ConflictRule):
        return ConflictError(rule.message)
    is_value_error = isinstance(
        exc, psycopg2.errors.CheckViolation | psycopg2.errors.NotNullViolation
    )
    if isinstance(rule, FieldRule):
        return _refused(rule.field, rule.message)
    if is_value_error:
        field = diag.column_name or _column_of(diag.table_name, constraint)
        return _refused(field, REFUSED_VALUE)
    return ConflictError(CONCURRENT_CHANGE)


def _refused(field: str | None, message: str) -> ValidationFailedError:
    loc: tuple[str, ...] = ("body", field) if field else ("body",)
    return ValidationFailedError([FieldError(loc=loc, msg=message)])


def _column_of(table: str | None, constraint: str) -> str | None:
    """`patients_height_cm_check` -> `height_cm` (PostgreSQL's names for column CHECKs)."""
    prefix, suffix = f"{table}_", "_check"
    if table and constraint.startswith(prefix) and constraint.endswith(suffix):
        return constraint[len(prefix) : -len(suffix)] or None
    return None
