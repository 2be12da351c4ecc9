"""Demo data for `make run`: a guardian with patients, caregivers across regions, availability.

Deterministic (seeded) and idempotent: a second run changes nothing. The demo accounts share the
password from `SEED_DEMO_PASSWORD`; they are for a local database only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, time

from psycopg2.extras import execute_values

from models.vocabularies import (
    CareLevel,
    Certification,
    Condition,
    Day,
    MobilityStatus,
    Specialty,
)
from shared.auth import users_repository
from shared.auth.passwords import hash_password
from shared.db import Cursor
from shared.personality import AXES, upsert_statement
from shared.unit_of_work import UnitOfWork

DEMO_GUARDIAN_EMAIL = "guardian@demo.neulbomcare.kr"
DEMO_CAREGIVER_EMAIL = "caregiver@demo.neulbomcare.kr"

_SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
_GIVEN = [
    "민준",
    "서연",
    "지훈",
    "하은",
    "도윤",
    "수빈",
    "영숙",
    "정희",
    "순자",
    "미경",
    "현우",
    "지영",
]
_REGIONS = [
    "SEOUL_GANGNAM", "SEOUL_MAPO", "SEOUL_NOWON", "SEOUL_SONGPA", "GYEONGGI_GOYANG",
    "GYEONGGI_SUWON", "GYEONGGI_SEONGNAM", "INCHEON_BUPYEONG", "BUSAN_HAEUNDAE", "DAEGU_SUSEONG",
]  # fmt: skip


@dataclass(frozen=True)
class SeedReport:
    created: bool
    guardians: int
    patients: int
    caregivers: int


def seed_demo(uow: UnitOfWork, *, password: str, caregiver_count: int, seed: int) -> SeedReport:
    """Insert the demo data unless the demo guardian already exists (in `uow`'s transaction)."""
    rng = random.Random(seed)
    password_hash = hash_password(password)  # before the transaction begins: it is slow
    cur = uow.cursor
    # Any account with that email, deleted or not: the demo was seeded before.
    cur.execute("SELECT 1 FROM users WHERE lower(email) = lower(%s)", (DEMO_GUARDIAN_EMAIL,))
    if cur.fetchone():
        return SeedReport(created=False, guardians=0, patients=0, caregivers=0)
    guardian_user = _user(cur, DEMO_GUARDIAN_EMAIL, "김보호", "guardian", "female", password_hash)
    cur.execute(
        "INSERT INTO guardians (user_id, address, relationship_to_patient, emergency_contact)"
        " VALUES (%s, %s, %s, %s) RETURNING guardian_id",
        (guardian_user, "서울특별시 강남구 테헤란로 1", "자녀", "010-9876-5432"),
    )
    guardian_id = _returned(cur, "guardian_id")
    patients = _patients(cur, guardian_id, rng)
    caregivers = _caregivers(cur, rng, caregiver_count, password_hash)
    return SeedReport(created=True, guardians=1, patients=patients, caregivers=caregivers)


def _user(
    cur: Cursor, email: str, name: str, role: str, gender: str | None, password_hash: str
) -> int:
    return users_repository.insert_user(
        cur, email=email, name=name, role=role, password_hash=password_hash, gender=gender
    )


def _returned(cur: Cursor, column: str) -> int:
    """The id an INSERT ... RETURNING gave back."""
    row = cur.fetchone()
    assert row is not None
    return int(row[column])


def _patients(cur: Cursor, guardian_id: int, rng: random.Random) -> int:
    demo = [
        ("박순자", date(1941, 3, 14), "female", "SEOUL_GANGNAM", CareLevel.GRADE_3,
         MobilityStatus.ASSISTIVE_DEVICE, [Condition.DEMENTIA, Condition.HYPERTENSION]),
        ("이영수", date(1938, 11, 2), "male", "GYEONGGI_GOYANG", CareLevel.GRADE_2,
         MobilityStatus.WHEELCHAIR, [Condition.STROKE, Condition.DIABETES]),
        ("최말순", date(1945, 6, 30), "female", "SEOUL_MAPO", CareLevel.COGNITIVE_SUPPORT,
         MobilityStatus.INDEPENDENT, [Condition.COGNITIVE_IMPAIRMENT, Condition.ARTHRITIS]),
    ]  # fmt: skip
    for name, birth, gender, region, level, mobility, conditions in demo:
        cur.execute(
            "INSERT INTO patients (guardian_id, name, birth_date, gender, care_address,"
            " region_code, care_level, mobility_status, height_cm, weight_kg)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING patient_id",
            (guardian_id, name, birth, gender, f"{region} 데모 주소", region, level.value,
             mobility.value, rng.randint(145, 175), rng.randint(40, 75)),
        )  # fmt: skip
        patient_id = _returned(cur, "patient_id")
        execute_values(
            cur,
            "INSERT INTO patient_conditions (patient_id, code) VALUES %s",
            [(patient_id, c.value) for c in conditions],
        )
        _personality(cur, "patient_personality", "patient_id", patient_id, rng)
    return len(demo)


def _caregivers(cur: Cursor, rng: random.Random, count: int, password_hash: str) -> int:
    certifications = list(Certification)
    specialties = list(Specialty)
    for index in range(count):
        email = DEMO_CAREGIVER_EMAIL if index == 0 else f"caregiver{index:04d}@demo.neulbomcare.kr"
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        gender = rng.choice(["female", "female", "female", "male"])
        user_id = _user(cur, email, name, "caregiver", gender, password_hash)
        cur.execute(
            "INSERT INTO caregivers (user_id, experience_years, service_region, has_vehicle,"
            " hourly_rate, bio) VALUES (%s, %s, %s, %s, %s, %s) RETURNING caregiver_id",
            (user_id, rng.randint(0, 25), rng.choice(_REGIONS), rng.random() < 0.4,
             rng.randrange(12_000, 25_001, 500), "성실하게 돌봐 드리겠습니다."),
        )  # fmt: skip
        caregiver_id = _returned(cur, "caregiver_id")
        held = {rng.choice([Certification.CAREGIVER_1, Certification.CAREGIVER_2])}
        if rng.random() < 0.2:
            held.add(rng.choice(certifications))
        execute_values(
            cur,
            "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES %s",
            [(caregiver_id, c.value) for c in held],
        )
        execute_values(
            cur,
            "INSERT INTO caregiver_specialties (caregiver_id, code) VALUES %s",
            [(caregiver_id, s.value) for s in rng.sample(specialties, rng.randint(1, 4))],
        )
        days = rng.sample(list(Day), rng.randint(3, 6))
        start = rng.choice([7, 8, 9, 10])
        execute_values(
            cur,
            "INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time)"
            " VALUES %s",
            [
                (caregiver_id, d.value, time(start), time(start + rng.choice([4, 6, 8, 10])))
                for d in days
            ],
        )
        _personality(cur, "caregiver_personality", "caregiver_id", caregiver_id, rng)
    return count


def _personality(cur: Cursor, table: str, key: str, owner_id: int, rng: random.Random) -> None:
    scores = [rng.randint(20, 95) for _ in AXES]
    cur.execute(upsert_statement(table, key), (owner_id, *scores, "manual"))
