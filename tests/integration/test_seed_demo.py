"""`manage.py seed-demo` against a database of its own (the session database is shared, and other
tests count its rows)."""

from __future__ import annotations

import secrets

import psycopg2
import pytest

from devtools.seed_demo import DEMO_CAREGIVER_EMAIL, DEMO_GUARDIAN_EMAIL
from shared.auth.passwords import verify_password
from tests.manage_cli import run_manage, service_env

pytestmark = pytest.mark.integration

DEMO_PASSWORD = "demo-password-" + secrets.token_hex(4)
CAREGIVER_COUNT = 12

COUNTED_TABLES = (
    "users",
    "guardians",
    "patients",
    "patient_conditions",
    "patient_personality",
    "caregivers",
    "caregiver_certifications",
    "caregiver_specialties",
    "caregiver_availability",
    "caregiver_personality",
)


@pytest.fixture
def seed_database_url(migrated_database_url: str) -> str:
    """Seeding is tested on a database of its own: other tests count rows in the shared one."""
    return migrated_database_url


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def _counts(url: str) -> dict[str, int]:
    return {
        table: _query(url, f"SELECT count(*) FROM {table}")[0][0]  # fixed names
        for table in COUNTED_TABLES
    }


def _seed(url: str, azurite, password: str | None = DEMO_PASSWORD, **settings: str):
    """Run `manage.py seed-demo`; `password=None` leaves SEED_DEMO_PASSWORD unset."""
    if password is not None:
        settings["SEED_DEMO_PASSWORD"] = password
    env = service_env(url, azurite, SEED_CAREGIVER_COUNT=str(CAREGIVER_COUNT), **settings)
    return run_manage("seed-demo", env=env)


def test_seed_demo_creates_the_demo_data_once(seed_database_url: str, azurite) -> None:
    url = seed_database_url

    first = _seed(url, azurite)

    assert first.returncode == 0, first.stderr
    assert "demo data created" in first.stdout
    assert DEMO_PASSWORD not in first.stdout + first.stderr
    [(guardian_role, guardian_hash)] = _query(
        url, "SELECT role, password_hash FROM users WHERE email = %s", (DEMO_GUARDIAN_EMAIL,)
    )
    assert guardian_role == "guardian"
    assert verify_password(guardian_hash, DEMO_PASSWORD)
    assert _query(
        url,
        "SELECT count(*) FROM patients p JOIN guardians g USING (guardian_id)"
        " JOIN users u USING (user_id) WHERE u.email = %s",
        (DEMO_GUARDIAN_EMAIL,),
    ) == [(3,)]
    counts = _counts(url)
    assert counts["guardians"] == 1
    assert counts["patients"] == 3
    assert counts["patient_personality"] == 3
    assert counts["caregivers"] == CAREGIVER_COUNT
    assert counts["users"] == 1 + CAREGIVER_COUNT
    assert _query(
        url,
        "SELECT count(*) FROM users u JOIN caregivers c USING (user_id)"
        " WHERE u.role = 'caregiver' AND u.email LIKE '%%@demo.neulbomcare.kr'",
    ) == [(CAREGIVER_COUNT,)]
    assert _query(url, "SELECT 1 FROM users WHERE email = %s", (DEMO_CAREGIVER_EMAIL,)) == [(1,)]
    incomplete = _query(
        url,
        "SELECT c.caregiver_id FROM caregivers c"
        " WHERE NOT EXISTS (SELECT 1 FROM caregiver_certifications x"
        "                   WHERE x.caregiver_id = c.caregiver_id)"
        "    OR NOT EXISTS (SELECT 1 FROM caregiver_availability x"
        "                   WHERE x.caregiver_id = c.caregiver_id)"
        "    OR NOT EXISTS (SELECT 1 FROM caregiver_personality x"
        "                   WHERE x.caregiver_id = c.caregiver_id)",
    )
    assert incomplete == []

    second = _seed(url, azurite)

    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert "created" not in second.stdout
    assert _counts(url) == counts


def test_seed_demo_refuses_production(seed_database_url: str, azurite) -> None:
    before = _counts(seed_database_url)

    result = _seed(
        seed_database_url,
        azurite,
        APP_ENV="production",
        ALLOWED_HOSTS="api.neulbomcare.kr",
        JWT_SECRET="p" * 40,
    )

    assert result.returncode != 0
    assert "production" in result.stderr
    assert "refusing to seed" in result.stderr
    assert _counts(seed_database_url) == before
    assert before["users"] == 0


@pytest.mark.parametrize(
    ("app_env", "password"),
    # The development profile supplies a demo password, so "unset" is tried in staging.
    [("staging", None), ("development", "")],
    ids=["unset-in-staging", "empty-in-development"],
)
def test_seed_demo_needs_a_password(
    seed_database_url: str, azurite, app_env: str, password: str | None
) -> None:
    # Staging needs its host names like production (shared/config.py).
    hosts = {"ALLOWED_HOSTS": "staging-api.neulbomcare.example"} if app_env == "staging" else {}
    result = _seed(seed_database_url, azurite, password=password, APP_ENV=app_env, **hosts)

    assert result.returncode != 0
    assert "SEED_DEMO_PASSWORD" in result.stderr
    assert _counts(seed_database_url)["users"] == 0
