"""The four personality axes in SQL, derived from `models.vocabularies.PersonalityAxis`.

Patients and caregivers each have a personality table with one column per axis
(`patient_personality`, `caregiver_personality`); every statement that lists those columns
builds the list here, so an axis is added in one place (the vocabulary and a migration).
"""

from __future__ import annotations

from models.vocabularies import PERSONALITY_AXES

AXES = PERSONALITY_AXES


def axis_columns(alias: str = "") -> str:
    """`p.empathy, p.activity, ...` (or without an alias)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + axis for axis in AXES)


def axis_array(alias: str) -> str:
    """`ARRAY[p.empathy, ...]::float8[]`: the axes as one vector, in the fixed order."""
    return f"ARRAY[{axis_columns(alias)}]::float8[]"


def upsert_statement(table: str, key: str, returning: str = "") -> str:
    """`INSERT INTO table (key, <axes>, source) VALUES (%s, ...) ON CONFLICT (key) DO UPDATE ...`
    with one `%s` for the key, one per axis and one for the source; `table` and `key` are the
    caller's constants (the two personality tables)."""
    if table not in ("patient_personality", "caregiver_personality"):
        raise ValueError(f"not a personality table: {table}")
    if key not in ("patient_id", "caregiver_id"):
        raise ValueError(f"not a personality key: {key}")
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in (*AXES, "source"))
    placeholders = ", ".join(["%s"] * (len(AXES) + 2))
    statement = (
        f"INSERT INTO {table} ({key}, {axis_columns()}, source) VALUES ({placeholders})"  # noqa: S608
        f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    return f"{statement} RETURNING {returning}" if returning else statement
