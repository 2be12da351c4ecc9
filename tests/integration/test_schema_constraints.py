"""The schema itself refuses bad data, so a bug above it cannot store what the API forbids.

Each test runs in a transaction that is rolled back, except the concurrency test, which needs
commits and cleans up after itself.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum

import psycopg2
import psycopg2.errors
import pytest
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json

from models import vocabularies

pytestmark = pytest.mark.integration

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def cur(database_url: str) -> Iterator[Cursor]:
    """A cursor in a transaction that is always rolled back."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.rollback()
        conn.close()


# --- seed helpers: the smallest valid rows, so each test changes just one thing -----------


def _insert(cur: Cursor, statement: str, params: tuple[object, ...]) -> int:
    cur.execute(statement, params)
    row = cur.fetchone()
    assert row is not None
    return row[0]


def _user(cur: Cursor, role: str = "guardian") -> int:
    email = f"{role}-{secrets.token_hex(4)}@example.com"
    return _insert(
        cur,
        "INSERT INTO users (email, name, role) VALUES (%s, %s, %s) RETURNING user_id",
        (email, "테스트", role),
    )


def _guardian_with_patient(cur: Cursor) -> tuple[int, int]:
    """Return (guardian's user_id, patient_id)."""
    user_id = _user(cur, "guardian")
    guardian_id = _insert(
        cur,
        "INSERT INTO guardians (user_id, address) VALUES (%s, %s) RETURNING guardian_id",
        (user_id, "서울시 강남구"),
    )
    patient_id = _insert(
        cur,
        "INSERT INTO patients (guardian_id, name, birth_date, gender, care_address, region_code)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING patient_id",
        (guardian_id, "김순자", "1940-03-02", "female", "서울시 강남구", "SEOUL_GANGNAM"),
    )
    return user_id, patient_id


def _caregiver(cur: Cursor) -> tuple[int, int]:
    """Return (caregiver's user_id, caregiver_id)."""
    user_id = _user(cur, "caregiver")
    caregiver_id = _insert(
        cur,
        "INSERT INTO caregivers (user_id, experience_years, service_region, hourly_rate)"
        " VALUES (%s, %s, %s, %s) RETURNING caregiver_id",
        (user_id, 5, "GYEONGGI_GOYANG", 15000),
    )
    return user_id, caregiver_id


def _request(cur: Cursor, patient_id: int, user_id: int) -> int:
    return _insert(
        cur,
        "INSERT INTO matching_requests (patient_id, requested_by, care_type, days, time_slots,"
        " start_date) VALUES (%s, %s, 'caregiver', %s, %s, '2025-12-01') RETURNING request_id",
        (patient_id, user_id, ["mon", "wed"], Json([{"start": "09:00", "end": "13:00"}])),
    )


def _matching(
    cur: Cursor, request_id: int, patient_id: int, caregiver_id: int, status: str = "recommended"
) -> int:
    return _insert(
        cur,
        "INSERT INTO matching_results (request_id, patient_id, caregiver_id, score, grade, status)"
        " VALUES (%s, %s, %s, 88.5, 'A', %s) RETURNING matching_id",
        (request_id, patient_id, caregiver_id, status),
    )


def _schedule(cur: Cursor, patient_id: int) -> int:
    return _insert(
        cur,
        "INSERT INTO schedules (patient_id, schedule_date) VALUES (%s, '2025-12-01')"
        " RETURNING schedule_id",
        (patient_id,),
    )


def _set_status(cur: Cursor, matching_id: int, status: str) -> None:
    cur.execute(
        "UPDATE matching_results SET status = %s WHERE matching_id = %s", (status, matching_id)
    )


# --- vocabularies and ranges ---------------------------------------------------------------


@pytest.mark.parametrize(
    "region_code", ["SEOUL", "TOKYO_SHIBUYA", "seoul_gangnam", "SEOUL_GANGNAM1", "SEOUL_"]
)
def test_patient_region_code_must_be_province_and_district(cur: Cursor, region_code: str) -> None:
    _, patient_id = _guardian_with_patient(cur)

    with pytest.raises(psycopg2.errors.CheckViolation):
        cur.execute(
            "UPDATE patients SET region_code = %s WHERE patient_id = %s", (region_code, patient_id)
        )


def test_caregiver_region_uses_the_same_rule(cur: Cursor) -> None:
    _, caregiver_id = _caregiver(cur)

    with pytest.raises(psycopg2.errors.CheckViolation):
        cur.execute(
            "UPDATE caregivers SET service_region = 'GYEONGGI' WHERE caregiver_id = %s",
            (caregiver_id,),
        )


@pytest.mark.parametrize(
    ("statement", "value"),
    [
        ("INSERT INTO patient_conditions (patient_id, code) VALUES ({pid}, %s)", "flu"),
        ("UPDATE patients SET care_level = %s WHERE patient_id = {pid}", "grade_6"),
        ("UPDATE patients SET mobility_status = %s WHERE patient_id = {pid}", "flying"),
        (
            "INSERT INTO patient_diets (patient_id, diet_type) VALUES ({pid}, %s)",
            "keto",
        ),
        (
            "INSERT INTO patient_diets (patient_id, diet_type, allergens)"
            " VALUES ({pid}, 'regular', %s)",
            ["peanut", "kiwi"],
        ),
    ],
)
def test_vocabulary_codes_outside_the_contract_are_rejected(
    cur: Cursor, statement: str, value: object
) -> None:
    _, patient_id = _guardian_with_patient(cur)

    with pytest.raises(psycopg2.errors.CheckViolation):
        cur.execute(statement.format(pid=patient_id), (value,))


def test_known_codes_are_accepted(cur: Cursor) -> None:
    _, patient_id = _guardian_with_patient(cur)

    cur.execute(
        "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, 'dementia'), (%s, 'cancer')",
        (patient_id, patient_id),
    )
    cur.execute(
        "INSERT INTO patient_diets (patient_id, diet_type, allergens)"
        " VALUES (%s, 'low_sodium', %s)",
        (patient_id, ["peanut", "shrimp"]),
    )

    cur.execute("SELECT count(*) FROM patient_conditions WHERE patient_id = %s", (patient_id,))
    assert cur.fetchone() == (2,)


# Every code the API's models accept must be storable: a CHECK that lags behind models/ turns
# a valid request into a 500.
VOCABULARY_TARGETS = [
    (
        vocabularies.Condition,
        "INSERT INTO patient_conditions (patient_id, code) VALUES ({pid}, %s)",
    ),
    (vocabularies.CareLevel, "UPDATE patients SET care_level = %s WHERE patient_id = {pid}"),
    (
        vocabularies.MobilityStatus,
        "UPDATE patients SET mobility_status = %s WHERE patient_id = {pid}",
    ),
    (vocabularies.Gender, "UPDATE patients SET gender = %s WHERE patient_id = {pid}"),
    (vocabularies.DietType, "INSERT INTO patient_diets (patient_id, diet_type) VALUES ({pid}, %s)"),
    (
        vocabularies.Allergen,
        "INSERT INTO patient_diets (patient_id, diet_type, allergens)"
        " VALUES ({pid}, 'regular', ARRAY[%s])",
    ),
    (
        vocabularies.Certification,
        "INSERT INTO caregiver_certifications (caregiver_id, code) VALUES ({cid}, %s)",
    ),
    (
        vocabularies.Specialty,
        "INSERT INTO caregiver_specialties (caregiver_id, code) VALUES ({cid}, %s)",
    ),
    (
        vocabularies.Day,
        "INSERT INTO caregiver_availability (caregiver_id, day, start_time, end_time)"
        " VALUES ({cid}, %s, '09:00', '18:00')",
    ),
    (
        vocabularies.Province,
        "UPDATE caregivers SET service_region = %s || '_TEST' WHERE caregiver_id = {cid}",
    ),
]


@pytest.mark.parametrize(
    ("vocabulary", "statement"),
    VOCABULARY_TARGETS,
    ids=[vocabulary.__name__ for vocabulary, _ in VOCABULARY_TARGETS],
)
def test_every_code_the_models_know_is_storable(
    cur: Cursor, vocabulary: type[StrEnum], statement: str
) -> None:
    _, patient_id = _guardian_with_patient(cur)
    _, caregiver_id = _caregiver(cur)

    for code in vocabulary:
        cur.execute("SAVEPOINT code")
        cur.execute(statement.format(pid=patient_id, cid=caregiver_id), (code.value,))
        assert cur.rowcount == 1, code
        cur.execute("ROLLBACK TO SAVEPOINT code")


@pytest.mark.parametrize("rating", [0, 6])
def test_review_rating_must_be_one_to_five(cur: Cursor, rating: int) -> None:
    user_id, patient_id = _guardian_with_patient(cur)
    _, caregiver_id = _caregiver(cur)
    matching_id = _matching(
        cur, _request(cur, patient_id, user_id), patient_id, caregiver_id, "completed"
    )

    with pytest.raises(psycopg2.errors.CheckViolation):
        cur.execute(
            "INSERT INTO reviews (matching_id, caregiver_id, reviewer_id, reviewer_role, rating)"
            " VALUES (%s, %s, %s, 'guardian', %s)",
            (matching_id, caregiver_id, user_id, rating),
        )


def test_review_caregiver_must_be_the_matchings(cur: Cursor) -> None:
    user_id, patient_id = _guardian_with_patient(cur)
    _, caregiver_id = _caregiver(cur)
    _, other_caregiver_id = _caregiver(cur)
    matching_id = _matching(
        cur, _request(cur, patient_id, user_id), patient_id, caregiver_id, "completed"
    )

    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        cur.execute(
            "INSERT INTO reviews (matching_id, caregiver_id, reviewer_id, reviewer_role, rating)"
            " VALUES (%s, %s, %s, 'guardian', 5)",
            (matching_id, other_caregiver_id, user_id),
        )


def _care_log_with_vitals(cur: Cursor, vitals: object) -> None:
    _, patient_id = _guardian_with_patient(cur)
    schedule_id = _schedule(cur, patient_id)
    cur.execute(
        "INSERT INTO care_logs (schedule_id, patient_id, category, task_name, vitals)"
        " VALUES (%s, %s, 'vital_check', '혈압 측정', %s)",
        (schedule_id, patient_id, Json(vitals)),
    )


@pytest.mark.parametrize(
    "vitals",
    [
        {"systolic": 300},
        {"diastolic": 20},
        {"pulse": 251},
        {"temperature_c": 50.5},
        {"blood_sugar": 700},
        {"systolic": "high"},
        ["systolic", 120],
    ],
)
def test_vitals_out_of_range_are_rejected(cur: Cursor, vitals: object) -> None:
    with pytest.raises(psycopg2.errors.CheckViolation):
        _care_log_with_vitals(cur, vitals)


def test_plausible_vitals_are_accepted(cur: Cursor) -> None:
    _care_log_with_vitals(
        cur,
        {"systolic": 128, "diastolic": 82, "pulse": 72, "temperature_c": 36.6, "blood_sugar": None},
    )

    cur.execute("SELECT vitals ->> 'systolic' FROM care_logs ORDER BY care_log_id DESC LIMIT 1")
    assert cur.fetchone() == ("128",)


def test_completed_care_log_needs_completed_at(cur: Cursor) -> None:
    _, patient_id = _guardian_with_patient(cur)
    schedule_id = _schedule(cur, patient_id)

    with pytest.raises(psycopg2.errors.CheckViolation):
        cur.execute(
            "INSERT INTO care_logs (schedule_id, patient_id, category, task_name, is_completed)"
            " VALUES (%s, %s, 'meal', '점심 식사', true)",
            (schedule_id, patient_id),
        )


def test_care_log_patient_must_be_its_schedules(cur: Cursor) -> None:
    _, patient_id = _guardian_with_patient(cur)
    _, other_patient_id = _guardian_with_patient(cur)
    schedule_id = _schedule(cur, patient_id)

    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        cur.execute(
            "INSERT INTO care_logs (schedule_id, patient_id, category, task_name)"
            " VALUES (%s, %s, 'meal', '점심 식사')",
            (schedule_id, other_patient_id),
        )


def test_email_is_unique_regardless_of_case(cur: Cursor) -> None:
    cur.execute(
        "INSERT INTO users (email, name, role) VALUES ('Kim@Example.com', '김', 'guardian')"
    )

    with pytest.raises(psycopg2.errors.UniqueViolation):
        cur.execute(
            "INSERT INTO users (email, name, role) VALUES ('kim@example.COM', '김', 'caregiver')"
        )


# --- triggers -------------------------------------------------------------------------------


def test_updated_at_changes_on_update_and_created_at_does_not(cur: Cursor) -> None:
    user_id = _insert(
        cur,
        "INSERT INTO users (email, name, role, created_at, updated_at)"
        " VALUES ('park@example.com', '박', 'guardian', %s, %s) RETURNING user_id",
        (LONG_AGO, LONG_AGO),
    )

    cur.execute("UPDATE users SET name = '박영희' WHERE user_id = %s", (user_id,))

    cur.execute(
        "SELECT created_at, updated_at, updated_at = now() FROM users WHERE user_id = %s",
        (user_id,),
    )
    row = cur.fetchone()
    assert row is not None
    created_at, updated_at, is_now = row
    assert created_at == LONG_AGO
    assert updated_at > LONG_AGO
    assert is_now is True


def test_updated_at_stays_when_nothing_changed(cur: Cursor) -> None:
    user_id = _insert(
        cur,
        "INSERT INTO users (email, name, role, updated_at)"
        " VALUES ('lee@example.com', '이', 'guardian', %s) RETURNING user_id",
        (LONG_AGO,),
    )

    cur.execute("UPDATE users SET name = name WHERE user_id = %s", (user_id,))

    cur.execute("SELECT updated_at FROM users WHERE user_id = %s", (user_id,))
    assert cur.fetchone() == (LONG_AGO,)


def _audit_event(cur: Cursor, occurred_at: datetime | None = None) -> int:
    return _insert(
        cur,
        "INSERT INTO audit_events (occurred_at, actor_user_id, action, patient_id, resource_type)"
        " VALUES (coalesce(%s, now()), 1, 'view', 1, 'patient') RETURNING event_id",
        (occurred_at,),
    )


def test_audit_events_cannot_be_updated(cur: Cursor) -> None:
    event_id = _audit_event(cur)

    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
        cur.execute("UPDATE audit_events SET action = 'export' WHERE event_id = %s", (event_id,))


def test_recent_audit_events_cannot_be_deleted(cur: Cursor) -> None:
    event_id = _audit_event(cur)

    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
        cur.execute("DELETE FROM audit_events WHERE event_id = %s", (event_id,))


def test_audit_events_past_retention_can_be_pruned(cur: Cursor) -> None:
    event_id = _audit_event(cur, occurred_at=datetime(2019, 6, 1, tzinfo=UTC))

    cur.execute("DELETE FROM audit_events WHERE event_id = %s", (event_id,))

    assert cur.rowcount == 1


# --- ownership ------------------------------------------------------------------------------


def test_deleting_a_patient_removes_its_conditions(cur: Cursor) -> None:
    _, patient_id = _guardian_with_patient(cur)
    _, kept_patient_id = _guardian_with_patient(cur)
    cur.execute(
        "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, 'stroke'), (%s, 'stroke')",
        (patient_id, kept_patient_id),
    )

    cur.execute("DELETE FROM patients WHERE patient_id = %s", (patient_id,))

    cur.execute(
        "SELECT patient_id FROM patient_conditions WHERE patient_id IN (%s, %s)",
        (patient_id, kept_patient_id),
    )
    assert cur.fetchall() == [(kept_patient_id,)]


# --- one selected-or-active matching per request ---------------------------------------------


def test_request_holds_at_most_one_selected_or_active_matching(cur: Cursor) -> None:
    user_id, patient_id = _guardian_with_patient(cur)
    request_id = _request(cur, patient_id, user_id)
    first = _matching(cur, request_id, patient_id, _caregiver(cur)[1])
    second = _matching(cur, request_id, patient_id, _caregiver(cur)[1])
    _set_status(cur, first, "active")

    with pytest.raises(psycopg2.errors.UniqueViolation):
        _set_status(cur, second, "selected")


def test_a_cancelled_matching_frees_the_request(cur: Cursor) -> None:
    user_id, patient_id = _guardian_with_patient(cur)
    request_id = _request(cur, patient_id, user_id)
    first = _matching(cur, request_id, patient_id, _caregiver(cur)[1], "selected")
    second = _matching(cur, request_id, patient_id, _caregiver(cur)[1])

    _set_status(cur, first, "cancelled")
    _set_status(cur, second, "selected")

    cur.execute(
        "SELECT matching_id FROM matching_results WHERE request_id = %s AND status = 'selected'",
        (request_id,),
    )
    assert cur.fetchall() == [(second,)]


def _connect(url: str) -> Connection:
    conn = psycopg2.connect(url)
    with conn.cursor() as c:
        c.execute("SET statement_timeout = '10s'")
    conn.commit()
    return conn


def test_concurrent_selects_leave_exactly_one_selected(database_url: str) -> None:
    setup = _connect(database_url)
    setup.autocommit = True
    first_tx = _connect(database_url)
    second_tx = _connect(database_url)
    with setup.cursor() as c:
        guardian_user, patient_id = _guardian_with_patient(c)
        caregiver_a_user, caregiver_a = _caregiver(c)
        caregiver_b_user, caregiver_b = _caregiver(c)
        request_id = _request(c, patient_id, guardian_user)
        first = _matching(c, request_id, patient_id, caregiver_a)
        second = _matching(c, request_id, patient_id, caregiver_b)
    outcome: list[str] = []

    def select_second() -> None:
        try:
            with second_tx.cursor() as c:
                _set_status(c, second, "selected")
            second_tx.commit()
            outcome.append("committed")
        except psycopg2.errors.UniqueViolation:
            second_tx.rollback()
            outcome.append("unique_violation")

    try:
        with first_tx.cursor() as c:
            _set_status(c, first, "selected")  # not committed yet
        racer = threading.Thread(target=select_second)
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive(), "the second select should wait for the first transaction"

        first_tx.commit()
        racer.join(timeout=15)

        assert outcome == ["unique_violation"]
        with setup.cursor() as c:
            c.execute(
                "SELECT matching_id FROM matching_results"
                " WHERE request_id = %s AND status IN ('selected', 'active')",
                (request_id,),
            )
            assert c.fetchall() == [(first,)]
    finally:
        first_tx.close()
        second_tx.close()
        with setup.cursor() as c:
            c.execute(
                "DELETE FROM users WHERE user_id IN (%s, %s, %s)",
                (guardian_user, caregiver_a_user, caregiver_b_user),
            )
        setup.close()
