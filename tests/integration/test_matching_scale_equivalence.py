"""The region-first filters answer exactly what the previous statement answered.

`shared.matching.filters_reference` classifies every active caregiver from the source tables
(the definition); `run_hard_filters` reads `caregiver_search` by region and the counters. On a
few hundred random caregivers (every province, odd certifications, overlapping, adjacent and
off-the-hour slots, inactive and deleted accounts, bookings and completed matchings), built
and then changed through ordinary statements so the triggers keep the derived tables, both
must agree on every request: candidates_considered, each filter's excluded count, the
survivors, and the scoring inputs of the survivors (so the ranked list is the same).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import numpy as np
import psycopg2
import psycopg2.extras
import pytest

from models.vocabularies import Province
from shared.matching import filters_reference
from shared.matching.features import build_features
from shared.matching.filters import FilterInput, run_hard_filters
from shared.matching.profiles import PatientProfile, RequestProfile
from tests.fixtures.database import throwaway_database

pytestmark = pytest.mark.integration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PROVINCES = [str(p) for p in Province]
CERTIFICATIONS = ("caregiver_1", "caregiver_2", "nurse", "nurse_aide", "social_worker_2")
SPECIALTIES = ("dementia", "stroke", "diabetes", "hypertension", "hospice", "rehabilitation")
START = date(2027, 3, 1)


def _time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _slots(rng: random.Random) -> list[tuple[str, str, str]]:
    """A week of slots: none, one, two overlapping, two adjacent, or off the hour."""
    out = []
    for day in rng.sample(DAYS, rng.choice([0, 2, 4, 5, 6, 7])):
        start = rng.choice([360, 420, 480, 540, 570, 600, 780])
        end = min(start + rng.choice([180, 240, 300, 480, 600]), 1380)
        out.append((day, _time(start), _time(end)))
        kind = rng.random()
        if kind < 0.2:  # adjacent: together they span what neither covers alone
            out.append((day, _time(end), _time(min(end + 120, 1439))))
        elif kind < 0.35 and start >= 120:  # overlapping, earlier start, shorter end
            out.append((day, _time(start - 60), _time(start + 30)))
        elif kind < 0.45 and end <= 1260:  # a later slot of its own
            out.append((day, _time(end + 60), _time(end + 150)))
        elif kind < 0.55 and end <= 1200:  # three apart: the slots themselves are asked
            out.append((day, _time(end + 30), _time(end + 90)))
            out.append((day, _time(end + 120), _time(end + 180)))
    return out


def _add_caregiver(cur: Any, rng: random.Random, index: int) -> int:
    cur.execute(
        "INSERT INTO users (email, name, role, gender) VALUES (%s, '요양보호사', 'caregiver', %s)"
        " RETURNING user_id",
        (f"equiv-{index}@test.invalid", rng.choice(["female", "male", None])),
    )
    user_id = cur.fetchone()["user_id"]
    province = rng.choice(PROVINCES[:4] * 3 + PROVINCES)  # more in a few provinces
    cur.execute(
        "INSERT INTO caregivers (user_id, experience_years, service_region, hourly_rate,"
        " avg_rating, total_reviews) VALUES (%s, %s, %s, %s, %s, %s) RETURNING caregiver_id",
        (
            user_id,
            rng.randint(0, 20),
            f"{province}_{rng.choice(['A', 'B'])}",
            rng.randrange(10000, 25001, 1000),
            round(rng.uniform(0, 5), 2),
            rng.randint(0, 30),
        ),
    )
    caregiver_id = cur.fetchone()["caregiver_id"]
    certifications = rng.sample(CERTIFICATIONS, rng.choice([0, 1, 1, 2]))
    if rng.random() < 0.7:
        certifications = [rng.choice(CERTIFICATIONS[:2]), *certifications]
    for code in set(certifications):
        cur.execute(
            "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES (%s, %s)",
            (caregiver_id, code),
        )
    for code in rng.sample(SPECIALTIES, rng.randint(0, 3)):
        cur.execute(
            "INSERT INTO caregiver_specialties (caregiver_id, code) VALUES (%s, %s)",
            (caregiver_id, code),
        )
    psycopg2.extras.execute_values(
        cur,
        "INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time) VALUES %s"
        " ON CONFLICT DO NOTHING",
        [(caregiver_id, d, s, e) for d, s, e in _slots(rng)],
    )
    if rng.random() < 0.8:
        cur.execute(
            "INSERT INTO caregiver_personality (caregiver_id, empathy, activity, patience,"
            " independence) VALUES (%s, %s, %s, %s, %s)",
            (caregiver_id, *(rng.randint(0, 100) for _ in range(4))),
        )
    return caregiver_id


def _add_matching(cur: Any, patient_id: int, requester: int, caregiver_id: int, rng, status):
    days = rng.sample(DAYS, rng.randint(2, 7))
    start = rng.choice([360, 480, 540, 600, 780])
    slots = json.dumps([{"start": _time(start), "end": _time(start + rng.choice([120, 600]))}])
    begin = START + timedelta(days=rng.randint(-30, 30))
    cur.execute(
        "INSERT INTO matching_requests (patient_id, requested_by, care_type, days, time_slots,"
        " start_date, end_date) VALUES (%s, %s, 'caregiver', %s, %s, %s, %s) RETURNING request_id",
        (patient_id, requester, days, slots, begin, begin + timedelta(days=rng.randint(10, 90))),
    )
    request_id = cur.fetchone()["request_id"]
    cur.execute(
        "INSERT INTO matching_results (request_id, patient_id, caregiver_id, rank, score, grade,"
        " status) VALUES (%s, %s, %s, 1, 80, 'A', 'recommended') RETURNING matching_id",
        (request_id, patient_id, caregiver_id),
    )
    matching_id = cur.fetchone()["matching_id"]
    # Moved to its status by an UPDATE, as the lifecycle does (the UPDATE trigger's path).
    cur.execute(
        "UPDATE matching_results SET status = %s WHERE matching_id = %s", (status, matching_id)
    )


def _build(url: str, rng: random.Random, count: int) -> None:
    conn = psycopg2.connect(url, cursor_factory=psycopg2.extras.RealDictCursor)
    cur: Any
    with conn, conn.cursor() as cur:
        ids = [_add_caregiver(cur, rng, i) for i in range(count)]
        cur.execute(
            "INSERT INTO users (email, name, role) VALUES ('equiv-g@test.invalid', '보호자',"
            " 'guardian') RETURNING user_id"
        )
        guardian_user = cur.fetchone()["user_id"]
        cur.execute(
            "INSERT INTO guardians (user_id, address) VALUES (%s, '서울') RETURNING guardian_id",
            (guardian_user,),
        )
        guardian_id = cur.fetchone()["guardian_id"]
        cur.execute(
            "INSERT INTO patients (guardian_id, name, birth_date, gender, care_address,"
            " region_code) VALUES (%s, '환자', '1940-01-01', 'female', '서울', 'SEOUL_A')"
            " RETURNING patient_id",
            (guardian_id,),
        )
        patient_id = cur.fetchone()["patient_id"]
        for caregiver_id in rng.sample(ids, count // 3):
            status = rng.choice(["active", "active", "completed", "cancelled"])
            _add_matching(cur, patient_id, guardian_user, caregiver_id, rng, status)
    # Later changes, each in a transaction of its own: every trigger path (UPDATE, DELETE).
    changes = [
        "UPDATE users SET is_active = false WHERE user_id IN"
        " (SELECT user_id FROM caregivers WHERE caregiver_id %% 11 = 0)",
        "UPDATE users SET deleted_at = now() WHERE user_id IN"
        " (SELECT user_id FROM caregivers WHERE caregiver_id %% 13 = 0)",
        "UPDATE users SET gender = NULL WHERE user_id IN"
        " (SELECT user_id FROM caregivers WHERE caregiver_id %% 7 = 0)",
        "UPDATE caregivers SET service_region = 'JEJU_A', hourly_rate = hourly_rate + 500"
        " WHERE caregiver_id %% 9 = 0",
        "UPDATE caregivers SET avg_rating = 4.5, total_reviews = total_reviews + 1"
        " WHERE caregiver_id %% 5 = 0",
        "UPDATE caregiver_availability SET end_time = end_time + interval '30 minutes'"
        " WHERE slot_id %% 6 = 0 AND end_time < '22:00'",
        "DELETE FROM caregiver_availability WHERE slot_id %% 10 = 0",
        "DELETE FROM caregiver_certifications WHERE caregiver_id %% 17 = 0",
        "DELETE FROM caregiver_specialties WHERE caregiver_id %% 8 = 0",
        "UPDATE caregiver_personality SET empathy = 0 WHERE caregiver_id %% 4 = 0",
        "DELETE FROM caregiver_personality WHERE caregiver_id %% 15 = 0",
        "UPDATE matching_results SET status = 'completed' WHERE matching_id %% 3 = 0",
        "DELETE FROM caregivers WHERE caregiver_id %% 19 = 0",
        "DELETE FROM users WHERE user_id IN"
        " (SELECT user_id FROM caregivers WHERE caregiver_id %% 23 = 0)",
    ]
    for statement in changes:
        with conn, conn.cursor() as cur:
            cur.execute(statement, {})
    conn.close()


@pytest.fixture(scope="module")
def equivalence_database(pg_server_url: str) -> Iterator[str]:
    with throwaway_database(pg_server_url, migrated=True) as url:
        _build(url, random.Random(16), 500)
        yield url


@pytest.fixture
def cur(equivalence_database: str) -> Iterator[Any]:
    conn = psycopg2.connect(equivalence_database, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.rollback()
        conn.close()


def _requests(rng: random.Random, count: int) -> list[FilterInput]:
    out = []
    for _ in range(count):
        start = rng.choice([360, 480, 540, 570, 600, 615, 780, 1080])
        slots = {(_time(start), _time(start + rng.choice([60, 90, 120, 150])))}
        if rng.random() < 0.3:
            later = min(start + 300, 1260)
            slots.add((_time(later), _time(later + 90)))
        begin = START + timedelta(days=rng.randint(-20, 40))
        out.append(
            FilterInput(
                care_type=rng.choice(["caregiver"] * 3 + ["nurse", "nurse_aide"]),
                patient_region=f"{rng.choice(PROVINCES[:4] * 4 + PROVINCES)}_A",
                days=tuple(rng.sample(DAYS, rng.choice([1, 1, 2, 3]))),
                time_slots=tuple(sorted(slots)),
                start_date=begin,
                end_date=rng.choice([None, begin + timedelta(days=60)]),
                gender_preference=rng.choice(["any", "any", "female", "male"]),
                min_experience_years=rng.choice([0, 0, 3, 10]),
                required_specialties=tuple(rng.sample(SPECIALTIES, rng.choice([0, 0, 1, 2]))),
                max_hourly_rate=rng.choice([None, None, 15000, 20000]),
            )
        )
    return out


REQUESTS = _requests(random.Random(7), 120)


def test_the_dataset_exercises_every_filter(cur):
    """Guard against a dataset too tame to prove anything: each filter removes someone."""
    totals = dict.fromkeys(REQUESTS[0].__dataclass_fields__, 0)
    survivors = 0
    for request in REQUESTS:
        outcome = filters_reference.run_reference_filters(cur, request)
        for name, n in outcome.excluded.items():
            totals[name] = totals.get(name, 0) + n
        survivors += len(outcome.survivors)
    excluded = {k: v for k, v in totals.items() if k in outcome.excluded}
    assert all(n > 0 for n in excluded.values()), (sorted(excluded.items()), survivors)
    assert survivors > 50
    second = " OR ".join(f"{day}_start2 IS NOT NULL" for day in DAYS)
    cur.execute(
        f"SELECT count(*) FILTER (WHERE {second}) AS two,"
        " count(*) FILTER (WHERE split_days <> 0) AS more FROM caregiver_search"
    )
    row = cur.fetchone()
    assert row["two"] > 20  # days with two slots neither covers
    assert row["more"] > 5  # days with three or more: caregiver_slot_covers asks the slots


@pytest.mark.parametrize("index", range(len(REQUESTS)))
def test_counts_and_survivors_equal_the_reference(cur, index):
    request = REQUESTS[index]
    new = run_hard_filters(cur, request)
    old = filters_reference.run_reference_filters(cur, request)
    assert (new.considered, new.excluded, new.survivors) == (
        old.considered,
        old.excluded,
        old.survivors,
    )


def test_scoring_inputs_of_the_survivors_equal_the_reference(cur):
    """The same features for every survivor of every request: the same ranked list."""
    patient = PatientProfile(
        personality=(70.0, 40.0, 80.0, 30.0),
        conditions=frozenset({"dementia", "stroke"}),
        care_level="grade_2",
        mobility_status="wheelchair",
        region_code="SEOUL_A",
    )
    compared = 0
    mean = filters_reference.reference_mean_rating(cur)
    for request in REQUESTS[:40]:
        new = run_hard_filters(cur, request)
        if not new.survivors:
            continue
        old = filters_reference.candidates_from_columns(
            filters_reference.candidate_columns(cur, new.survivors)
        )
        profile = RequestProfile(
            care_type=request.care_type,
            days=request.days,
            time_slots=request.time_slots,
            max_hourly_rate=request.max_hourly_rate,
            required_specialties=frozenset(request.required_specialties),
            min_experience_years=request.min_experience_years,
        )
        assert new.platform_mean_rating == mean
        np.testing.assert_array_equal(
            build_features(patient, profile, new.candidates, platform_mean_rating=mean),
            build_features(patient, profile, old, platform_mean_rating=mean),
        )
        assert new.candidates.service_region == old.service_region
        compared += len(new.survivors)
    assert compared > 20


def test_one_caregiver_is_classified_as_the_reference_does(cur):
    cur.execute("SELECT caregiver_id FROM caregivers ORDER BY caregiver_id LIMIT 60")
    ids = [row["caregiver_id"] for row in cur.fetchall()]
    for caregiver_id, request in zip(ids, REQUESTS, strict=False):
        new = run_hard_filters(cur, request, only_caregiver_id=caregiver_id)
        old = filters_reference.run_reference_filters(cur, request, only_caregiver_id=caregiver_id)
        assert (new.considered, new.excluded, new.survivors) == (
            old.considered,
            old.excluded,
            old.survivors,
        )


def test_the_maintained_rows_equal_a_fresh_computation(cur):
    """After every insert, update and delete above, the search rows and counters are what a
    recomputation from the sources gives."""
    cur.execute("SELECT * FROM caregiver_search ORDER BY caregiver_id")
    maintained = cur.fetchall()
    cur.execute("SELECT * FROM caregiver_search_counts WHERE caregivers <> 0 OR reviews <> 0"
                " ORDER BY province, certifications, is_active")  # fmt: skip
    counters = cur.fetchall()
    cur.execute("DELETE FROM caregiver_search")
    cur.execute("SELECT caregiver_search_refresh(ARRAY(SELECT caregiver_id FROM caregivers))")
    cur.execute("SELECT * FROM caregiver_search ORDER BY caregiver_id")
    assert maintained == cur.fetchall()
    cur.execute(
        "SELECT province, certifications, is_active, count(*)::int AS caregivers,"
        " sum(total_reviews)::bigint AS reviews, sum(avg_rating * total_reviews) AS rating_sum"
        " FROM caregiver_search GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    recomputed = cur.fetchall()
    assert [dict(r) for r in counters] == [dict(r) for r in recomputed]


def test_a_transaction_sees_its_own_caregiver_changes(cur):
    """Changes are recomputed at commit, or when this transaction runs the filters first."""
    request = REQUESTS[0]
    before = run_hard_filters(cur, request)
    cur.execute("UPDATE users SET is_active = false WHERE role = 'caregiver'")
    after = run_hard_filters(cur, request)
    assert before.considered > 0
    assert (after.considered, after.survivors) == (0, [])
    cur.execute("SELECT count(*) AS n FROM ops_caregiver_search_pending")
    assert cur.fetchone()["n"] == 0
