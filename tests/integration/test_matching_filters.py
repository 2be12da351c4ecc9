"""The hard filters against real PostgreSQL: each keeps out exactly what it should.

Each test builds its caregivers inside one transaction on a module-private database and rolls
back at the end, so counts are exact and tests do not see each other's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import psycopg2
import psycopg2.extras
import pytest

from models.matching import FILTER_ORDER
from shared.db import Cursor
from shared.matching.filters import FilterInput, run_hard_filters
from tests.factories import (
    TestUser,
    add_caregiver_availability,
    add_caregiver_specialties,
    make_caregiver,
    make_guardian,
    make_matching,
    make_patient,
    token_for,
)
from tests.fixtures.database import throwaway_database

pytestmark = pytest.mark.integration

START = date(2027, 3, 1)


@pytest.fixture(scope="module")
def filters_database(pg_server_url: str) -> Iterator[str]:
    with throwaway_database(pg_server_url, migrated=True) as url:
        yield url


@pytest.fixture
def cur(filters_database: str) -> Iterator[psycopg2.extensions.cursor]:
    conn = psycopg2.connect(filters_database, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.rollback()
        conn.close()


BASE_REQUEST = FilterInput(
    care_type="caregiver",
    patient_region="SEOUL_GANGNAM",
    days=("mon", "wed"),
    time_slots=(("09:00", "12:00"),),
    start_date=START,
    end_date=START + timedelta(days=60),
    gender_preference="any",
    min_experience_years=0,
    required_specialties=(),
    max_hourly_rate=None,
)


def request(**overrides: Any) -> FilterInput:
    return replace(BASE_REQUEST, **overrides)


def caregiver(
    cur,
    *,
    slots=(("mon", "08:00", "12:00"), ("wed", "09:00", "13:00")),
    specialties=(),
    **kwargs,
) -> int:
    user = make_caregiver(cur, **kwargs)
    add_caregiver_availability(cur, user, list(slots))
    add_caregiver_specialties(cur, user, list(specialties))
    assert user.caregiver_id is not None  # make_caregiver sets it
    return user.caregiver_id


def outcome(cur, **overrides):
    result = run_hard_filters(cur, request(**overrides))
    assert set(result.excluded) == set(FILTER_ORDER)
    assert result.considered == sum(result.excluded.values()) + len(result.survivors)
    return result


def failed_filter(cur, caregiver_id: int, **overrides) -> str | None:
    """The filter this caregiver is counted under (None when it survives)."""
    result = run_hard_filters(cur, request(**overrides), only_caregiver_id=caregiver_id)
    assert result.considered == 1
    if result.survivors == [caregiver_id]:
        return None
    (name,) = [k for k, v in result.excluded.items() if v]
    return name


def test_a_caregiver_passing_everything_survives(cur):
    good = caregiver(cur)
    assert failed_filter(cur, good) is None


@pytest.mark.parametrize(
    ("care_type", "certifications", "passes"),
    [
        ("caregiver", ("caregiver_2",), True),
        ("caregiver", ("nurse",), False),
        ("nurse", ("nurse",), True),
        ("nurse", ("nurse_aide", "caregiver_1"), False),
        ("nurse_aide", ("nurse_aide",), True),
    ],
)
def test_certification(cur, care_type, certifications, passes):
    cid = caregiver(cur, certifications=certifications)
    assert failed_filter(cur, cid, care_type=care_type) == (None if passes else "certification")


@pytest.mark.parametrize(
    ("patient_region", "caregiver_region", "passes"),
    [
        ("SEOUL_GANGNAM", "SEOUL_MAPO", True),  # same province
        ("SEOUL_GANGNAM", "GYEONGGI_GOYANG", True),  # both in the capital area
        ("INCHEON_BUPYEONG", "SEOUL_MAPO", True),
        ("SEOUL_GANGNAM", "BUSAN_HAEUNDAE", False),
        ("BUSAN_HAEUNDAE", "BUSAN_SUYEONG", True),
        ("BUSAN_HAEUNDAE", "ULSAN_JUNG", False),  # neighbours, but not the same province
        ("GANGWON_CHUNCHEON", "GYEONGGI_GAPYEONG", False),  # next to the capital area only
    ],
)
def test_region(cur, patient_region, caregiver_region, passes):
    cid = caregiver(cur, region=caregiver_region)
    result = failed_filter(cur, cid, patient_region=patient_region)
    assert result == (None if passes else "region")


@pytest.mark.parametrize(
    ("slots", "passes"),
    [
        ((("mon", "09:00", "12:00"), ("wed", "09:00", "12:00")), True),  # exact fit
        ((("mon", "06:00", "12:00"), ("wed", "09:00", "18:00")), True),  # ends exactly at end
        ((("mon", "09:00", "11:59"), ("wed", "09:00", "12:00")), False),  # one minute short
        ((("mon", "09:01", "12:00"), ("wed", "09:00", "12:00")), False),  # starts late
        ((("mon", "09:00", "12:00"),), False),  # a requested day missing
        ((("mon", "09:00", "10:30"), ("mon", "10:30", "12:00"), ("wed", "08:00", "13:00")), False),
    ],
)
def test_availability_needs_one_slot_covering_each_requested_slot(cur, slots, passes):
    cid = caregiver(cur, slots=slots)
    assert failed_filter(cur, cid) == (None if passes else "availability")


def test_availability_with_several_requested_slots(cur):
    cid = caregiver(cur, slots=(("mon", "09:00", "12:00"), ("mon", "14:00", "18:00")))
    slots = (("09:00", "11:00"), ("15:00", "17:00"))
    assert failed_filter(cur, cid, days=("mon",), time_slots=slots) is None
    assert failed_filter(cur, cid, days=("mon",), time_slots=(("11:00", "15:00"),)) == (
        "availability"
    )


@pytest.mark.parametrize(
    ("preference", "gender", "passes"),
    [("any", None, True), ("female", "female", True), ("female", "male", False),
     ("male", None, False), ("any", "male", True)],
)  # fmt: skip
def test_gender_preference_and_unknown_gender(cur, preference, gender, passes):
    cid = caregiver(cur, gender=gender)
    assert failed_filter(cur, cid, gender_preference=preference) == (None if passes else "gender")


@pytest.mark.parametrize(("years", "passes"), [(4, False), (5, True), (6, True)])
def test_experience_equal_to_the_minimum_passes(cur, years, passes):
    cid = caregiver(cur, experience_years=years)
    result = failed_filter(cur, cid, min_experience_years=5)
    assert result == (None if passes else "experience")


def test_specialties_must_all_be_held(cur):
    cid = caregiver(cur, specialties=("dementia", "hospice"))
    assert failed_filter(cur, cid, required_specialties=("dementia",)) is None
    assert failed_filter(cur, cid, required_specialties=("dementia", "hospice")) is None
    assert failed_filter(cur, cid, required_specialties=("dementia", "stroke")) == "specialties"


@pytest.mark.parametrize(("rate", "passes"), [(20000, True), (20001, False)])
def test_budget_is_inclusive(cur, rate, passes):
    cid = caregiver(cur, hourly_rate=rate)
    assert failed_filter(cur, cid, max_hourly_rate=20000) == (None if passes else "budget")
    assert failed_filter(cur, cid, max_hourly_rate=None) is None


def _caregiver_user(cur: Cursor, caregiver_id: int) -> TestUser:
    """The caregiver's account, as make_matching takes it."""
    cur.execute(
        "SELECT u.user_id, u.email FROM users u JOIN caregivers c USING (user_id)"
        " WHERE c.caregiver_id = %s",
        (caregiver_id,),
    )
    row = cur.fetchone()
    assert row is not None
    return TestUser(
        user_id=row["user_id"],
        email=row["email"],
        role="caregiver",
        token=token_for(row["user_id"], "caregiver"),
        caregiver_id=caregiver_id,
    )


def _book(cur, caregiver_id: int, *, days, slots, start, end=None, status="active"):
    """Give the caregiver a matching for another patient on these days, slots and dates."""
    patient = make_patient(cur, make_guardian(cur))
    matching = make_matching(cur, patient, _caregiver_user(cur, caregiver_id), status=status)
    cur.execute(
        "UPDATE matching_requests SET days = %s, time_slots = %s::jsonb, start_date = %s,"
        " end_date = %s WHERE request_id = (SELECT request_id FROM matching_results"
        " WHERE matching_id = %s)",
        (list(days), json.dumps([{"start": s, "end": e} for s, e in slots]), start, end, matching),
    )
    return matching


@pytest.mark.parametrize(
    ("days", "slots", "start", "end", "status", "booked"),
    [
        (("mon",), (("10:00", "11:00"),), START, None, "active", True),  # open-ended overlap
        (("tue",), (("09:00", "12:00"),), START, None, "active", False),  # other day
        (("mon",), (("12:00", "14:00"),), START, None, "active", False),  # touches, no overlap
        (("wed",), (("08:00", "09:30"),), START - timedelta(days=30), START, "active", True),
        (("mon",), (("09:00", "12:00"),), START - timedelta(days=30), START - timedelta(days=1),
         "active", False),  # ended the day before
        (("mon",), (("09:00", "12:00"),), START, None, "selected", False),  # not active yet
        (("mon",), (("09:00", "12:00"),), START, None, "completed", False),
    ],
)  # fmt: skip
def test_booked_means_an_overlapping_active_matching(cur, days, slots, start, end, status, booked):
    cid = caregiver(cur)
    _book(cur, cid, days=days, slots=slots, start=start, end=end, status=status)
    assert failed_filter(cur, cid) == ("booked" if booked else None)


def test_each_caregiver_is_counted_under_the_first_filter_it_fails(cur):
    caregiver(cur)  # survives
    caregiver(cur, certifications=("nurse",), region="BUSAN_JUNG")  # certification first
    caregiver(cur, region="BUSAN_JUNG", slots=())  # region before availability
    caregiver(cur, slots=(), gender="male")  # availability before gender
    caregiver(cur, gender="male", experience_years=0)  # gender before experience
    caregiver(cur, experience_years=1)  # experience
    caregiver(cur, specialties=(), hourly_rate=99999)  # specialties before budget
    caregiver(cur, specialties=("dementia",), hourly_rate=99999)  # budget
    result = outcome(
        cur,
        gender_preference="female",
        min_experience_years=2,
        required_specialties=("dementia",),
        max_hourly_rate=30000,
    )
    assert result.excluded == {
        "certification": 1,
        "region": 1,
        "availability": 1,
        "gender": 1,
        "experience": 1,
        "specialties": 2,  # the survivor-to-be has no dementia specialty either
        "budget": 1,
        "booked": 0,
    }
    assert result.considered == 8
    assert result.survivors == []


def test_inactive_accounts_are_not_considered(cur):
    cid = caregiver(cur)
    cur.execute(
        "UPDATE users SET is_active = false WHERE user_id ="
        " (SELECT user_id FROM caregivers WHERE caregiver_id = %s)",
        (cid,),
    )
    assert outcome(cur).considered == 0


def test_is_booked_agrees_with_the_filter(cur):
    from shared.matching.filters import is_booked

    cid = caregiver(cur)
    assert not is_booked(cur, cid, request())
    _book(cur, cid, days=("wed",), slots=(("11:00", "15:00"),), start=START)
    assert is_booked(cur, cid, request())
    assert not is_booked(cur, cid, request(days=("mon",)))
