"""Operator commands run under OPERATOR_STATEMENT_TIMEOUT_MS, not the request-sized
DB_STATEMENT_TIMEOUT_MS, and long ones show progress.

The import data is the import benchmark's generator at a size whose bulk statements take longer
than 100 ms (the smallest DB_STATEMENT_TIMEOUT_MS the settings allow): the run with a 100 ms
operator limit proves it is cancelled by that limit, so the run that succeeds under the same
100 ms request limit shows the request limit no longer applies to the import.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from benchmarks.import_csv import generate
from shared.backup import sessions
from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.integration

CAREGIVERS = 10_000
#: The smallest request limit the settings accept: far below any bulk statement here.
TINY_MS = "100"


@pytest.fixture(scope="module")
def national_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    directory = tmp_path_factory.mktemp("national-csv")
    expected = generate(directory, CAREGIVERS, 20, seed=3)
    return directory, expected


def _count(url: str, table: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()


def test_a_tiny_operator_limit_cancels_the_import_and_nothing_is_written(
    migrated_database_url: str, national_csv: tuple[Path, dict[str, int]]
) -> None:
    directory, _ = national_csv
    env = manage_env(
        APP_ENV="development",
        DATABASE_URL=migrated_database_url,
        DB_STATEMENT_TIMEOUT_MS="3600000",
        OPERATOR_STATEMENT_TIMEOUT_MS=TINY_MS,
    )

    result = run_manage("import-csv", str(directory), env=env, timeout=300)

    assert result.returncode == 1
    assert "statement timeout" in result.stderr
    assert "everything was rolled back" in result.stderr
    assert _count(migrated_database_url, "caregivers") == 0


def test_the_import_ignores_the_request_limit_and_prints_progress(
    migrated_database_url: str, national_csv: tuple[Path, dict[str, int]]
) -> None:
    directory, expected = national_csv
    env = manage_env(
        APP_ENV="development", DATABASE_URL=migrated_database_url, DB_STATEMENT_TIMEOUT_MS=TINY_MS
    )

    result = run_manage("import-csv", str(directory), env=env, timeout=300)

    assert result.returncode == 0, result.stderr
    assert _count(migrated_database_url, "caregivers") == expected["caregivers"]
    assert _count(migrated_database_url, "caregiver_availability") == expected["availability"]
    # Per N rows while reading, per step of a large file and per file while writing, on stderr.
    assert "caregiver_availability.csv: 50000 rows read" in result.stderr
    assert f"caregivers_profile.csv: accounts written ({CAREGIVERS} rows)" in result.stderr
    assert f"caregivers_profile.csv: {CAREGIVERS} rows read, writing {CAREGIVERS}" in result.stderr
    assert f"caregivers_profile.csv: {CAREGIVERS} imported, 0 updated" in result.stderr


def test_operator_sessions_carry_the_operator_limit_not_the_request_one(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backups, restores, drills and maintenance connect through shared.backup.sessions."""
    from shared.config import reset_settings

    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", TINY_MS)
    for operator_ms, shown in (("0", "0"), ("7200000", "2h")):
        monkeypatch.setenv("OPERATOR_STATEMENT_TIMEOUT_MS", operator_ms)
        reset_settings()
        conn = sessions.connect(database_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW statement_timeout")
                row = cur.fetchone()
                assert row is not None
                assert row[0] == shown
                cur.execute("SELECT count(*) FROM pg_sleep(0.3)")  # longer than the request limit
        finally:
            conn.close()
