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
from datetime import date
from typing import Any

import psycopg2
import psycopg2.extras

from shared.config import DEVELOPMENT_JWT_SECRET

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
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@test.neulbomcare.kr"


def make_user(
    cur: Any,
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
    user_id = cur.fetchone()["user_id"]
    return TestUser(user_id=user_id, email=email, role=role, token=token_for(user_id, role))


def make_guardian(cur: Any, **kwargs: Any) -> TestUser:
    user = make_user(cur, "guardian", **kwargs)
    cur.execute(
        "INSERT INTO guardians (user_id, address) VALUES (%s, '서울특별시 강남구 1')"
        " RETURNING guardian_id",
        (user.user_id,),
    )
    user.guardian_id = cur.fetchone()["guardian_id"]
    return user


def make_patient(
    cur: Any,
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
    return cur.fetchone()["patient_id"]


def make_caregiver(
    cur: Any,
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
    user.caregiver_id = cur.fetchone()["caregiver_id"]
    for code in certifications:
        cur.execute(
            "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES (%s, %s)",
            (user.caregiver_id, code),
        )
    return user


def make_matching(
    cur: Any,
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
    requester = requested_by.user_id if requested_by else cur.fetchone()["user_id"]
    cur.execute(
        "INSERT INTO matching_requests (patient_id, requested_by, care_type, days, time_slots,"
        " start_date) VALUES (%s, %s, 'caregiver', ARRAY['mon'],"
        ' \'[{"start": "09:00", "end": "12:00"}]\', current_date) RETURNING request_id',
        (patient_id, requester),
    )
    request_id = cur.fetchone()["request_id"]
    cur.execute(
        "INSERT INTO matching_results (request_id, patient_id, caregiver_id, score, grade, status)"
        " VALUES (%s, %s, %s, 80, 'A', %s) RETURNING matching_id",
        (request_id, patient_id, caregiver.caregiver_id, status),
    )
    return cur.fetchone()["matching_id"]


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
