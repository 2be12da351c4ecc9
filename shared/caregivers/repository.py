"""Caregivers' SQL: profiles, certification and specialty sets, availability, personality.

Every function takes the caller's cursor, so a service composes them into one transaction.
`caregiver_card` and `caregiver_cards` are the public read of a caregiver that other areas
(matching results, offers) reuse; their rows (`CaregiverCardRow`) have exactly the fields of
`CaregiverCard`. What the tables' constraints mean to a caller is registered below
(shared.integrity): a refused certification or specialty code names its list, a refused slot
names `slots`; the profile's column CHECKs name their column by PostgreSQL's own names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict, cast

from psycopg2.extras import execute_values

from shared.db import Cursor
from shared.integrity import FieldRule, register_constraints
from shared.personality import AXES, axis_columns, upsert_statement

register_constraints(
    {
        "caregiver_certifications_code_check": FieldRule("certifications"),
        "caregiver_specialties_code_check": FieldRule("specialties"),
        "caregiver_availability_day_check": FieldRule("slots"),
        "caregiver_availability_time_order": FieldRule("slots"),
    }
)


class CaregiverCardRow(TypedDict):
    """The public card of a caregiver (the fields of `models.caregivers.CaregiverCard`)."""

    caregiver_id: int
    name: str
    experience_years: int
    certifications: list[str]
    specialties: list[str]
    service_region: str
    has_vehicle: bool
    hourly_rate: int
    avg_rating: float
    total_reviews: int
    bio: str | None


class CaregiverProfileRow(CaregiverCardRow):
    """The card plus the profile's timestamps."""

    created_at: datetime
    updated_at: datetime


class AvailabilitySlotRow(TypedDict):
    """One weekly slot: day code and 'HH:MM' times."""

    day: str
    start: str
    end: str


class CaregiverPersonalityRow(TypedDict):
    """The four axes (shared.personality.AXES), where they came from and when."""

    empathy: int
    activity: int
    patience: int
    independence: int
    source: str
    updated_at: datetime


# One row per caregiver with both code sets aggregated in the same statement (no N+1).
_CARD_COLUMNS = """
    c.caregiver_id, u.name, c.experience_years,
    coalesce((SELECT array_agg(cc.code ORDER BY cc.code) FROM caregiver_certifications cc
              WHERE cc.caregiver_id = c.caregiver_id), ARRAY[]::text[]) AS certifications,
    coalesce((SELECT array_agg(cs.code ORDER BY cs.code) FROM caregiver_specialties cs
              WHERE cs.caregiver_id = c.caregiver_id), ARRAY[]::text[]) AS specialties,
    c.service_region, c.has_vehicle, c.hourly_rate, c.avg_rating, c.total_reviews, c.bio
"""
_CARD_FROM = " FROM caregivers c JOIN users u ON u.user_id = c.user_id"
_ACTIVE_ONLY = " AND u.is_active AND u.deleted_at IS NULL"


def _card(row: Mapping[str, Any]) -> dict[str, Any]:
    """A card row as the API shape: code lists as lists, the rating (numeric) as a float."""
    card = dict(row)
    card["certifications"] = list(card["certifications"])
    card["specialties"] = list(card["specialties"])
    rating: Decimal | float = card["avg_rating"]
    card["avg_rating"] = float(rating)
    return card


def caregiver_card(
    cur: Cursor, caregiver_id: int, *, only_active: bool = False
) -> CaregiverCardRow | None:
    """The public card of one caregiver, or None. `only_active` hides closed accounts."""
    return caregiver_cards(cur, [caregiver_id], only_active=only_active).get(caregiver_id)


def caregiver_cards(
    cur: Cursor, caregiver_ids: Iterable[int], *, only_active: bool = False
) -> dict[int, CaregiverCardRow]:
    """caregiver_id -> card for every existing caregiver among `caregiver_ids`, in one query."""
    ids = sorted(set(caregiver_ids))
    if not ids:
        return {}
    cur.execute(
        "SELECT"
        + _CARD_COLUMNS
        + _CARD_FROM
        + " WHERE c.caregiver_id = ANY(%(ids)s)"
        + (_ACTIVE_ONLY if only_active else ""),
        {"ids": ids},
    )
    return {row["caregiver_id"]: cast(CaregiverCardRow, _card(row)) for row in cur.fetchall()}


def caregiver_id_for_user(cur: Cursor, user_id: int, *, for_update: bool = False) -> int | None:
    """The caregiver profile id of a user, or None. `for_update` locks the profile row, so
    concurrent replacements of the same caregiver's sets run one after the other."""
    if for_update:
        cur.execute("SELECT caregiver_id FROM caregivers WHERE user_id = %s FOR UPDATE", (user_id,))
    else:
        cur.execute("SELECT caregiver_id FROM caregivers WHERE user_id = %s", (user_id,))
    row = cur.fetchone()
    return int(row["caregiver_id"]) if row else None


def upsert_profile(
    cur: Cursor,
    user_id: int,
    *,
    experience_years: int,
    service_region: str,
    has_vehicle: bool,
    hourly_rate: int,
    bio: str | None,
) -> int:
    """Create or replace the user's profile fields (ratings untouched); its caregiver_id."""
    cur.execute(
        """
        INSERT INTO caregivers (user_id, experience_years, service_region, has_vehicle,
                                hourly_rate, bio)
        VALUES (%(user_id)s, %(experience_years)s, %(service_region)s, %(has_vehicle)s,
                %(hourly_rate)s, %(bio)s)
        ON CONFLICT (user_id) DO UPDATE SET
            experience_years = EXCLUDED.experience_years,
            service_region = EXCLUDED.service_region,
            has_vehicle = EXCLUDED.has_vehicle,
            hourly_rate = EXCLUDED.hourly_rate,
            bio = EXCLUDED.bio
        RETURNING caregiver_id
        """,
        {
            "user_id": user_id,
            "experience_years": experience_years,
            "service_region": service_region,
            "has_vehicle": has_vehicle,
            "hourly_rate": hourly_rate,
            "bio": bio,
        },
    )
    return int(_one(cur)["caregiver_id"])


def replace_certifications(cur: Cursor, caregiver_id: int, codes: Sequence[str]) -> None:
    cur.execute("DELETE FROM caregiver_certifications WHERE caregiver_id = %s", (caregiver_id,))
    if codes:
        execute_values(
            cur,
            "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES %s",
            [(caregiver_id, code) for code in codes],
        )


def replace_specialties(cur: Cursor, caregiver_id: int, codes: Sequence[str]) -> None:
    cur.execute("DELETE FROM caregiver_specialties WHERE caregiver_id = %s", (caregiver_id,))
    if codes:
        execute_values(
            cur,
            "INSERT INTO caregiver_specialties (caregiver_id, code) VALUES %s",
            [(caregiver_id, code) for code in codes],
        )


def get_profile_row(cur: Cursor, caregiver_id: int) -> CaregiverProfileRow | None:
    """The card fields plus the profile's timestamps."""
    cur.execute(
        "SELECT"
        + _CARD_COLUMNS
        + ", c.created_at, c.updated_at"
        + _CARD_FROM
        + " WHERE c.caregiver_id = %s",
        (caregiver_id,),
    )
    row = cur.fetchone()
    return cast(CaregiverProfileRow, _card(row)) if row else None


def replace_availability(
    cur: Cursor, caregiver_id: int, slots: Sequence[tuple[str, str, str]]
) -> None:
    """Replace the weekly slots with (day, 'HH:MM' start, 'HH:MM' end) triples."""
    cur.execute("DELETE FROM caregiver_availability WHERE caregiver_id = %s", (caregiver_id,))
    if slots:
        execute_values(
            cur,
            "INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time)"
            " VALUES %s",
            [(caregiver_id, day, start, end) for day, start, end in slots],
            template="(%s, %s, %s::time, %s::time)",
        )


def list_availability(cur: Cursor, caregiver_id: int) -> list[AvailabilitySlotRow]:
    """The weekly slots, Monday first, each day by start time; times as 'HH:MM'."""
    cur.execute(
        """
        SELECT day, to_char(start_time, 'HH24:MI') AS start, to_char(end_time, 'HH24:MI') AS "end"
        FROM caregiver_availability
        WHERE caregiver_id = %s
        ORDER BY array_position(ARRAY['mon','tue','wed','thu','fri','sat','sun'], day),
                 start_time
        """,
        (caregiver_id,),
    )
    return [cast(AvailabilitySlotRow, dict(row)) for row in cur.fetchall()]


def upsert_personality(
    cur: Cursor, caregiver_id: int, scores: Mapping[str, int], *, source: str = "manual"
) -> CaregiverPersonalityRow:
    """Set the four axes (0..100) and where they came from; the stored row."""
    # The trigger only moves updated_at when a value changes; a re-save is news too.
    cur.execute(
        upsert_statement("caregiver_personality", "caregiver_id")
        + f", updated_at = now() RETURNING {axis_columns()}, source, updated_at",
        (caregiver_id, *(scores[axis] for axis in AXES), source),
    )
    return cast(CaregiverPersonalityRow, dict(_one(cur)))


def get_personality(cur: Cursor, caregiver_id: int) -> CaregiverPersonalityRow | None:
    cur.execute(
        f"SELECT {axis_columns()}, source, updated_at"  # noqa: S608  (constant columns)
        " FROM caregiver_personality WHERE caregiver_id = %s",
        (caregiver_id,),
    )
    row = cur.fetchone()
    return cast(CaregiverPersonalityRow, dict(row)) if row else None


def _one(cur: Cursor) -> dict[str, Any]:
    """The row a statement that always returns one row (RETURNING, aggregates) returned."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return dict(row)
