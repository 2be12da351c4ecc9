"""Caregivers' SQL: profiles, certification and specialty sets, availability, personality.

Every function takes the caller's cursor, so a service composes them into one transaction.
`caregiver_card` and `caregiver_cards` are the public read of a caregiver that other areas
(matching results, offers) reuse; their dicts have exactly the fields of `CaregiverCard`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg2.extras import execute_values

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


def _card(row: dict[str, Any]) -> dict[str, Any]:
    card = dict(row)
    card["certifications"] = list(card["certifications"])
    card["specialties"] = list(card["specialties"])
    card["avg_rating"] = float(card["avg_rating"])
    return card


def caregiver_card(
    cur: Any, caregiver_id: int, *, only_active: bool = False
) -> dict[str, Any] | None:
    """The public card of one caregiver, or None. `only_active` hides closed accounts."""
    return caregiver_cards(cur, [caregiver_id], only_active=only_active).get(caregiver_id)


def caregiver_cards(
    cur: Any, caregiver_ids: Iterable[int], *, only_active: bool = False
) -> dict[int, dict[str, Any]]:
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
    return {row["caregiver_id"]: _card(row) for row in cur.fetchall()}


def caregiver_id_for_user(cur: Any, user_id: int, *, for_update: bool = False) -> int | None:
    """The caregiver profile id of a user, or None. `for_update` locks the profile row, so
    concurrent replacements of the same caregiver's sets run one after the other."""
    if for_update:
        cur.execute("SELECT caregiver_id FROM caregivers WHERE user_id = %s FOR UPDATE", (user_id,))
    else:
        cur.execute("SELECT caregiver_id FROM caregivers WHERE user_id = %s", (user_id,))
    row = cur.fetchone()
    return row["caregiver_id"] if row else None


def upsert_profile(
    cur: Any,
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
    return cur.fetchone()["caregiver_id"]


def replace_certifications(cur: Any, caregiver_id: int, codes: Sequence[str]) -> None:
    cur.execute("DELETE FROM caregiver_certifications WHERE caregiver_id = %s", (caregiver_id,))
    if codes:
        execute_values(
            cur,
            "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES %s",
            [(caregiver_id, code) for code in codes],
        )


def replace_specialties(cur: Any, caregiver_id: int, codes: Sequence[str]) -> None:
    cur.execute("DELETE FROM caregiver_specialties WHERE caregiver_id = %s", (caregiver_id,))
    if codes:
        execute_values(
            cur,
            "INSERT INTO caregiver_specialties (caregiver_id, code) VALUES %s",
            [(caregiver_id, code) for code in codes],
        )


def get_profile_row(cur: Any, caregiver_id: int) -> dict[str, Any] | None:
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
    return _card(row) if row else None


def replace_availability(
    cur: Any, caregiver_id: int, slots: Sequence[tuple[str, str, str]]
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


def list_availability(cur: Any, caregiver_id: int) -> list[dict[str, str]]:
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
    return [dict(row) for row in cur.fetchall()]


def upsert_personality(
    cur: Any, caregiver_id: int, scores: dict[str, int], *, source: str = "manual"
) -> dict[str, Any]:
    """Set the four axes (0..100) and where they came from; the stored row."""
    cur.execute(
        """
        INSERT INTO caregiver_personality
            (caregiver_id, empathy, activity, patience, independence, source)
        VALUES (%(caregiver_id)s, %(empathy)s, %(activity)s, %(patience)s, %(independence)s,
                %(source)s)
        ON CONFLICT (caregiver_id) DO UPDATE SET
            empathy = EXCLUDED.empathy,
            activity = EXCLUDED.activity,
            patience = EXCLUDED.patience,
            independence = EXCLUDED.independence,
            source = EXCLUDED.source,
            -- The trigger only moves updated_at when a value changes; a re-save is news too.
            updated_at = now()
        RETURNING empathy, activity, patience, independence, source, updated_at
        """,
        {"caregiver_id": caregiver_id, "source": source, **scores},
    )
    return dict(cur.fetchone())


def get_personality(cur: Any, caregiver_id: int) -> dict[str, Any] | None:
    cur.execute(
        "SELECT empathy, activity, patience, independence, source, updated_at"
        " FROM caregiver_personality WHERE caregiver_id = %s",
        (caregiver_id,),
    )
    row = cur.fetchone()
    return dict(row) if row else None
