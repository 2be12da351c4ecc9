"""Every statement of long-term-care benefits: profiles, the tariffs in force, verified visits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict, cast

from shared.benefits.pricing import VerifiedVisit
from shared.benefits.tariffs import (
    CapRow,
    EntitlementRow,
    FamilyLimitRow,
    FeeRow,
    Holiday,
    RoundingRow,
    SurchargeRow,
    TariffBook,
)
from shared.db import Cursor


class ProfileRow(TypedDict):
    profile_id: int
    patient_id: int
    grade: str
    recognition_number: str | None
    recognition_valid_from: date | None
    recognition_valid_to: date | None
    copay_percent: int
    effective_from: date
    note: str | None
    superseded_at: datetime | None
    created_at: datetime


_PROFILE_COLUMNS = """
    profile_id, patient_id, grade, recognition_number, recognition_valid_from,
    recognition_valid_to, copay_percent, effective_from, note, superseded_at, created_at
"""


def profile_on(cur: Cursor, patient_id: int, day: date) -> ProfileRow | None:
    """The profile in force on `day`: the newest current row starting on or before it."""
    cur.execute(
        f"""
        SELECT {_PROFILE_COLUMNS} FROM ltc_profiles
        WHERE patient_id = %(patient_id)s AND superseded_at IS NULL
          AND effective_from <= %(day)s
        ORDER BY effective_from DESC LIMIT 1
        """,  # noqa: S608  (constant columns)
        {"patient_id": patient_id, "day": day},
    )
    return cast(ProfileRow | None, cur.fetchone())


def profile_history(cur: Cursor, patient_id: int) -> list[ProfileRow]:
    cur.execute(
        f"""
        SELECT {_PROFILE_COLUMNS} FROM ltc_profiles WHERE patient_id = %(patient_id)s
        ORDER BY effective_from DESC, profile_id DESC
        """,  # noqa: S608  (constant columns)
        {"patient_id": patient_id},
    )
    return cast(list[ProfileRow], cur.fetchall())


def patient_care_level(cur: Cursor, patient_id: int) -> str | None:
    cur.execute("SELECT care_level FROM patients WHERE patient_id = %s", (patient_id,))
    row = cur.fetchone()
    return None if row is None else str(row["care_level"])


def supersede(cur: Cursor, patient_id: int, effective_from: date) -> int | None:
    """Mark the current row starting on that day superseded; its id (None: there was none)."""
    cur.execute(
        """
        UPDATE ltc_profiles SET superseded_at = now()
        WHERE patient_id = %s AND effective_from = %s AND superseded_at IS NULL
        RETURNING profile_id
        """,
        (patient_id, effective_from),
    )
    row = cur.fetchone()
    return None if row is None else int(row["profile_id"])


def insert_profile(cur: Cursor, patient_id: int, values: dict[str, Any], by: int | None) -> int:
    cur.execute(
        """
        INSERT INTO ltc_profiles (patient_id, grade, recognition_number, recognition_valid_from,
            recognition_valid_to, copay_percent, effective_from, note, recorded_by)
        VALUES (%(patient_id)s, %(grade)s, %(recognition_number)s, %(recognition_valid_from)s,
            %(recognition_valid_to)s, %(copay_percent)s, %(effective_from)s, %(note)s, %(by)s)
        RETURNING profile_id
        """,
        {**values, "patient_id": patient_id, "by": by},
    )
    return int(cast(dict[str, Any], cur.fetchone())["profile_id"])


def set_care_level(cur: Cursor, patient_id: int, grade: str) -> None:
    """Keep the patient's care_level (matching, care plans) equal to the grade in force."""
    cur.execute(
        "UPDATE patients SET care_level = %s WHERE patient_id = %s AND care_level <> %s",
        (grade, patient_id, grade),
    )


def read_verified_visits(
    cur: Cursor, patient_id: int, start: datetime, end: datetime
) -> tuple[list[VerifiedVisit], int]:
    """The patient's verified visits checked in within [start, end), and how many completed
    visits there wait for an operator's review (not counted yet)."""
    cur.execute(
        """
        SELECT visit_id, caregiver_id, check_in_at, check_out_at,
               (needs_review AND reviewed_at IS NULL) AS pending
        FROM visits
        WHERE patient_id = %(patient_id)s AND status = 'completed'
          AND check_in_at >= %(start)s AND check_in_at < %(end)s
          AND check_out_at IS NOT NULL
        ORDER BY check_in_at, visit_id
        """,
        {"patient_id": patient_id, "start": start, "end": end},
    )
    rows = cur.fetchall()
    visits = [
        VerifiedVisit(r["visit_id"], r["caregiver_id"], r["check_in_at"], r["check_out_at"])
        for r in rows
        if not r["pending"]
    ]
    return visits, sum(1 for r in rows if r["pending"])


_EFFECTIVE = "effective_from, effective_to, source, verified"
_OVERLAPS = "effective_from <= %(last)s AND (effective_to IS NULL OR effective_to > %(first)s)"


def read_tariffs(cur: Cursor, first: date, last: date) -> TariffBook:
    """Every tariff row in force on some day of [first, last], and that period's holidays."""
    params = {"first": first, "last": last}

    def rows(table: str, columns: str) -> list[dict[str, Any]]:
        cur.execute(
            f"SELECT {_EFFECTIVE}, {columns} FROM {table} WHERE {_OVERLAPS}",  # noqa: S608
            params,
        )
        return [dict(r) for r in cur.fetchall()]

    caps = rows("ltc_monthly_caps", "grade, amount_won")
    fees = rows("ltc_visit_fees", "service, min_minutes, amount_won")
    surcharges = rows("ltc_surcharges", "service, kind, percent, window_start, window_end")
    entitlements = rows("ltc_entitlements", "grade, service, entitled")
    limits = rows(
        "ltc_family_caregiver_limits", "max_minutes_per_day, max_days_per_month, exceptions"
    )
    rounding = rows("ltc_rounding_rules", "target, unit_won, mode, description")
    cur.execute(
        "SELECT holiday_date, name, substitute, source, verified FROM ltc_public_holidays"
        " WHERE holiday_date BETWEEN %(first)s AND %(last)s",
        params,
    )
    holidays = {r["holiday_date"]: Holiday(**r) for r in cur.fetchall()}
    return TariffBook(
        caps=tuple(CapRow(**r) for r in caps),
        fees=tuple(FeeRow(**r) for r in fees),
        surcharges=tuple(SurchargeRow(**r) for r in surcharges),
        entitlements=tuple(EntitlementRow(**r) for r in entitlements),
        family_limits=tuple(
            FamilyLimitRow(**{**r, "exceptions": tuple(r["exceptions"])}) for r in limits
        ),
        rounding=tuple(RoundingRow(**r) for r in rounding),
        holidays=holidays,
    )
