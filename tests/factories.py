"""Test data written straight to a test database: users with tokens, patients, caregivers.

Rows are inserted with SQL (fast, no HTTP), and every user gets a real access token signed with
the development profile's JWT secret, which the served app and in-process tests share. Emails
are unique per call, so tests sharing the session database never collide.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg2
import psycopg2.extras

from shared.config import DEVELOPMENT_JWT_SECRET
from shared.db import Cursor

#: The password every factory user can sign in with (hashed once per session).
PASSWORD = "correct-horse-battery"
_hash_cache: dict[str, str] = {}


def password_hash() -> str:
    if PASSWORD not in _hash_cache:
        from shared.auth.passwords import hash_password

        _hash_cache[PASSWORD] = hash_password(PASSWORD)
    return _hash_cache[PASSWORD]


def token_for(user_id: int, role: str, *, secret: str = DEVELOPMENT_JWT_SECRET) -> str:
    """A valid 12-hour token, signed as the development profile signs."""
    import datetime as dt

    import jwt

    now = dt.datetime.now(dt.UTC)
    claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + dt.timedelta(hours=12)}
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class TestUser:
    __test__ = False  # not a pytest class

    user_id: int
    email: str
    role: str
    token: str
    guardian_id: int | None = None
    caregiver_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.contextmanager
def cursor(database_url: str) -> Iterator[Any]:
    """A committing RealDictCursor on the test database."""
    conn = psycopg2.connect(database_url, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            yield cur
    finally:
        conn.close()


def _returned(cur: Cursor, column: str) -> int:
    """The id an INSERT ... RETURNING (or a one-row SELECT) just answered."""
    row = cur.fetchone()
    assert row is not None
    return int(row[column])


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@test.neulbomcare.kr"


def make_user(
    cur: Cursor,
    role: str,
    *,
    email: str | None = None,
    name: str = "테스트",
    gender: str | None = "female",
    with_password: bool = False,
) -> TestUser:
    email = email or unique_email(role)
    cur.execute(
        "INSERT INTO users (email, name, role, gender, password_hash, phone)"
        " VALUES (%s, %s, %s, %s, %s, '010-1234-5678') RETURNING user_id",
        (email, name, role, gender, password_hash() if with_password else None),
    )
    user_id = _returned(cur, "user_id")
    return TestUser(user_id=user_id, email=email, role=role, token=token_for(user_id, role))


def make_guardian(cur: Cursor, **kwargs: Any) -> TestUser:
    user = make_user(cur, "guardian", **kwargs)
    cur.execute(
        "INSERT INTO guardians (user_id, address) VALUES (%s, '서울특별시 강남구 1')"
        " RETURNING guardian_id",
        (user.user_id,),
    )
    user.guardian_id = _returned(cur, "guardian_id")
    return user


def make_patient(
    cur: Cursor,
    guardian: TestUser,
    *,
    name: str = "김환자",
    birth_date: date = date(1940, 5, 1),
    region_code: str = "SEOUL_GANGNAM",
    care_level: str = "grade_3",
) -> int:
    cur.execute(
        "INSERT INTO patients (guardian_id, name, birth_date, gender, care_address, region_code,"
        " care_level) VALUES (%s, %s, %s, 'female', '서울특별시 강남구 2', %s, %s)"
        " RETURNING patient_id",
        (guardian.guardian_id, name, birth_date, region_code, care_level),
    )
    return _returned(cur, "patient_id")


def make_caregiver(
    cur: Cursor,
    *,
    region: str = "SEOUL_MAPO",
    experience_years: int = 5,
    hourly_rate: int = 15000,
    certifications: tuple[str, ...] = ("caregiver_1",),
    **kwargs: Any,
) -> TestUser:
    user = make_user(cur, "caregiver", **kwargs)
    cur.execute(
        "INSERT INTO caregivers (user_id, experience_years, service_region, hourly_rate)"
        " VALUES (%s, %s, %s, %s) RETURNING caregiver_id",
        (user.user_id, experience_years, region, hourly_rate),
    )
    user.caregiver_id = _returned(cur, "caregiver_id")
    for code in certifications:
        cur.execute(
            "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES (%s, %s)",
            (user.caregiver_id, code),
        )
    return user


def make_matching(
    cur: Cursor,
    patient_id: int,
    caregiver: TestUser,
    *,
    status: str = "active",
    requested_by: TestUser | None = None,
) -> int:
    """A matching request with one result in `status`; the result's matching_id."""
    cur.execute(
        "SELECT g.user_id FROM patients p JOIN guardians g USING (guardian_id)"
        " WHERE p.patient_id = %s",
        (patient_id,),
    )
    requester = requested_by.user_id if requested_by else _returned(cur, "user_id")
    cur.execute(
        "INSERT INTO matching_requests (patient_id, requested_by, care_type, days, time_slots,"
        " start_date) VALUES (%s, %s, 'caregiver', ARRAY['mon'],"
        ' \'[{"start": "09:00", "end": "12:00"}]\', current_date) RETURNING request_id',
        (patient_id, requester),
    )
    request_id = _returned(cur, "request_id")
    cur.execute(
        "INSERT INTO matching_results (request_id, patient_id, caregiver_id, score, grade, status)"
        " VALUES (%s, %s, %s, 80, 'A', %s) RETURNING matching_id",
        (request_id, patient_id, caregiver.caregiver_id, status),
    )
    return _returned(cur, "matching_id")


@dataclass
class Parties:
    """Everyone an authorization test asks about one patient."""

    patient_id: int
    owner: TestUser
    other_guardian: TestUser
    unassigned_caregiver: TestUser
    assigned_caregiver: TestUser
    offered_caregiver: TestUser
    admin: TestUser
    matching_id: int

    def headers(self, who: str) -> dict[str, str]:
        """Request headers for a party by name; `anonymous` sends no token."""
        if who == "anonymous":
            return {}
        return getattr(self, who).headers


PARTY_NAMES = (
    "anonymous",
    "other_guardian",
    "unassigned_caregiver",
    "assigned_caregiver",
    "owner",
    "admin",
)


def make_parties(database_url: str) -> Parties:
    """A patient with its owner, an active and a selected caregiver, and outsiders."""
    with cursor(database_url) as cur:
        owner = make_guardian(cur)
        patient_id = make_patient(cur, owner)
        other_guardian = make_guardian(cur)
        make_patient(cur, other_guardian)
        assigned = make_caregiver(cur)
        matching_id = make_matching(cur, patient_id, assigned, status="active")
        offered = make_caregiver(cur)
        make_matching(cur, patient_id, offered, status="selected")
        return Parties(
            patient_id=patient_id,
            owner=owner,
            other_guardian=other_guardian,
            unassigned_caregiver=make_caregiver(cur),
            assigned_caregiver=assigned,
            offered_caregiver=offered,
            admin=make_user(cur, "admin"),
            matching_id=matching_id,
        )


# -- caregivers (appended by the caregivers area) ---------------------------------------------


def add_caregiver_availability(
    cur: Cursor, caregiver: TestUser, slots: list[tuple[str, str, str]]
) -> None:
    """Add weekly slots, each (day, "HH:MM" start, "HH:MM" end), to a caregiver's profile."""
    for day, start, end in slots:
        cur.execute(
            "INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time)"
            " VALUES (%s, %s, %s::time, %s::time)",
            (caregiver.caregiver_id, day, start, end),
        )


def add_caregiver_specialties(cur: Cursor, caregiver: TestUser, codes: list[str]) -> None:
    """Add specialty codes (API.md vocabulary) to a caregiver's profile."""
    for code in codes:
        cur.execute(
            "INSERT INTO caregiver_specialties (caregiver_id, code) VALUES (%s, %s)",
            (caregiver.caregiver_id, code),
        )


def set_caregiver_personality(
    cur: Cursor,
    caregiver: TestUser,
    *,
    empathy: int = 50,
    activity: int = 50,
    patience: int = 50,
    independence: int = 50,
    source: str = "manual",
) -> None:
    """Set (or replace) a caregiver's four personality axes."""
    cur.execute(
        "INSERT INTO caregiver_personality"
        " (caregiver_id, empathy, activity, patience, independence, source)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (caregiver_id) DO UPDATE SET"
        " empathy = EXCLUDED.empathy, activity = EXCLUDED.activity,"
        " patience = EXCLUDED.patience, independence = EXCLUDED.independence,"
        " source = EXCLUDED.source",
        (caregiver.caregiver_id, empathy, activity, patience, independence, source),
    )


# -- reviews and dashboard (appended by the reviews/dashboard area) ---------------------------


def make_day_schedule(
    cur: Cursor,
    patient_id: int,
    schedule_date: date,
    *,
    status: str = "scheduled",
    completed: tuple[bool, ...] = (),
) -> int:
    """A schedule on `schedule_date` with one care log per entry of `completed` (its state)."""
    cur.execute(
        "INSERT INTO schedules (patient_id, schedule_date, status) VALUES (%s, %s, %s)"
        " RETURNING schedule_id",
        (patient_id, schedule_date, status),
    )
    schedule_id = _returned(cur, "schedule_id")
    for index, done in enumerate(completed):
        cur.execute(
            "INSERT INTO care_logs (schedule_id, patient_id, category, task_name, is_completed,"
            " completed_at) VALUES (%s, %s, 'other', %s, %s, CASE WHEN %s THEN now() END)",
            (schedule_id, patient_id, f"task {index + 1}", done, done),
        )
    return schedule_id


# -- patients (appended by the guardians/patients area) ---------------------------------------


def set_patient_profile(
    cur: Cursor,
    patient_id: int,
    *,
    conditions: tuple[str, ...] = (),
    medications: tuple[str, ...] = (),
    diet_type: str | None = None,
    allergens: tuple[str, ...] = (),
    personality: tuple[int, int, int, int] | None = None,
) -> list[int]:
    """Give a patient condition codes, medications (by name), a diet and personality axes
    (empathy, activity, patience, independence); the new medications' ids, in order."""
    for code in conditions:
        cur.execute(
            "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (patient_id, code),
        )
    medication_ids = []
    for name in medications:
        cur.execute(
            "INSERT INTO patient_medications (patient_id, name, dosage) VALUES (%s, %s, '1정')"
            " RETURNING medication_id",
            (patient_id, name),
        )
        medication_ids.append(_returned(cur, "medication_id"))
    if diet_type is not None:
        cur.execute(
            "INSERT INTO patient_diets (patient_id, diet_type, allergens)"
            " VALUES (%s, %s, %s::text[]) ON CONFLICT (patient_id) DO UPDATE"
            " SET diet_type = EXCLUDED.diet_type, allergens = EXCLUDED.allergens",
            (patient_id, diet_type, list(allergens)),
        )
    if personality is not None:
        cur.execute(
            "INSERT INTO patient_personality (patient_id, empathy, activity, patience,"
            " independence) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (patient_id) DO UPDATE"
            " SET empathy = EXCLUDED.empathy, activity = EXCLUDED.activity,"
            " patience = EXCLUDED.patience, independence = EXCLUDED.independence",
            (patient_id, *personality),
        )
    return medication_ids


# -- schedules and care logs (appended by the care area) --------------------------------------


def make_schedule(
    cur: Cursor,
    patient_id: int,
    schedule_date: date,
    *,
    status: str = "scheduled",
    care_plan_id: int | None = None,
) -> int:
    """A schedule of the patient on `schedule_date`; its schedule_id."""
    cur.execute(
        "INSERT INTO schedules (patient_id, schedule_date, status, care_plan_id)"
        " VALUES (%s, %s, %s, %s) RETURNING schedule_id",
        (patient_id, schedule_date, status, care_plan_id),
    )
    return _returned(cur, "schedule_id")


def make_care_log(
    cur: Cursor,
    schedule_id: int,
    *,
    category: str = "other",
    task_name: str = "돌봄 활동",
    assignee: str = "caregiver",
    scheduled_time: str | None = None,
    is_completed: bool = False,
    vitals: dict[str, Any] | None = None,
    note: str | None = None,
) -> int:
    """A care log on the schedule (its patient is the schedule's); its care_log_id."""
    cur.execute(
        "INSERT INTO care_logs (schedule_id, patient_id, category, task_name, assignee,"
        " scheduled_time, is_completed, completed_at, vitals, note)"
        " SELECT schedule_id, patient_id, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END, %s, %s"
        " FROM schedules WHERE schedule_id = %s RETURNING care_log_id",
        (
            category,
            task_name,
            assignee,
            scheduled_time,
            is_completed,
            is_completed,
            psycopg2.extras.Json(vitals) if vitals is not None else None,
            note,
            schedule_id,
        ),
    )
    return _returned(cur, "care_log_id")


# -- visits (appended by the visit details area) ----------------------------------------------


def make_visit(
    cur: Cursor,
    schedule_id: int,
    caregiver: TestUser,
    *,
    planned_start: datetime,
    planned_end: datetime | None = None,
    check_in_at: datetime | None = None,
    check_out_at: datetime | None = None,
    status: str | None = None,
    matching_id: int | None = None,
) -> int:
    """A visit of the schedule served by the caregiver (through their matching of the schedule's
    patient: `matching_id`, else their active one), written straight to the table; its visit_id.

    The status follows the times unless given: checked out -> `completed` (locked at the
    check-out), checked in -> `in_progress`, else `planned`. `missed` sets `missed_at` to the
    planned end; `cancelled` sets `cancelled_at`.
    """
    end = planned_end or planned_start + timedelta(hours=2)
    if status is None:
        status = "completed" if check_out_at else "in_progress" if check_in_at else "planned"
    cur.execute(
        """
        INSERT INTO visits (schedule_id, patient_id, matching_id, caregiver_id, planned_start,
                            planned_end, status, check_in_at, check_out_at, locked_at,
                            missed_at, cancelled_at)
        SELECT s.schedule_id, s.patient_id, m.matching_id, m.caregiver_id, %(start)s, %(end)s,
               %(status)s, %(check_in)s::timestamptz, %(check_out)s::timestamptz,
               CASE WHEN %(status)s = 'completed' THEN %(check_out)s::timestamptz END,
               CASE WHEN %(status)s = 'missed' THEN %(end)s::timestamptz END,
               CASE WHEN %(status)s = 'cancelled' THEN now() END
        FROM schedules s
        JOIN matching_results m ON m.patient_id = s.patient_id
        WHERE s.schedule_id = %(schedule_id)s AND m.caregiver_id = %(caregiver_id)s
          AND (m.matching_id = %(matching_id)s::bigint
               OR (%(matching_id)s::bigint IS NULL AND m.status = 'active'))
        ORDER BY m.matching_id DESC LIMIT 1
        RETURNING visit_id
        """,
        {
            "schedule_id": schedule_id,
            "caregiver_id": caregiver.caregiver_id,
            "matching_id": matching_id,
            "start": planned_start,
            "end": end,
            "status": status,
            "check_in": check_in_at,
            "check_out": check_out_at,
        },
    )
    return _returned(cur, "visit_id")
