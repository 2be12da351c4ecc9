"""The hard filters' plan follows the patient's region (EXPLAIN only, no timing).

On 20,000 caregivers (half in the capital area, the rest over 14 provinces, built as the
matching benchmark builds them), the filter statement reads no table of the country: neither
caregivers, users, certifications, specialties nor availability; `caregiver_search` is read
through its partial index on province for a patient in Jeju, and the per-filter counts of the
other provinces come from `caregiver_search_counts`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg2
import psycopg2.extras
import pytest

from benchmarks.matching_latency import SEED_SQL
from shared.matching import filters
from tests.fixtures.database import throwaway_database

pytestmark = pytest.mark.integration

NATIONAL_TABLES = {
    "caregivers",
    "users",
    "caregiver_certifications",
    "caregiver_specialties",
    "caregiver_availability",
    "caregiver_personality",
}


@pytest.fixture(scope="module")
def plan_cursor(pg_server_url: str) -> Iterator[Any]:
    with throwaway_database(pg_server_url, migrated=True) as url:
        conn = psycopg2.connect(url, cursor_factory=psycopg2.extras.RealDictCursor)
        with conn, conn.cursor() as cur:
            cur.execute(SEED_SQL, {"n": 20_000, "seed": 0.16})  # through the triggers
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
            yield cur
        conn.close()


def _plan(cur: Any, region: str) -> dict:
    request = filters.FilterInput(
        care_type="caregiver",
        patient_region=region,
        days=("mon", "wed"),
        time_slots=(("10:00", "12:00"),),
        start_date=date(2027, 3, 1),
        end_date=None,
        gender_preference="any",
        min_experience_years=0,
        required_specialties=("dementia",),
        max_hourly_rate=None,
    )
    params, available = filters._parameters(request)
    params["caregiver_id"] = None
    cur.execute("EXPLAIN (FORMAT JSON) " + filters._statement(filters._REGION, available), params)
    return cur.fetchone()["QUERY PLAN"][0]["Plan"]


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _relations(plan: dict) -> set[str]:
    return {node["Relation Name"] for node in _nodes(plan) if "Relation Name" in node}


def test_a_small_region_is_read_through_the_province_index(plan_cursor):
    plan = _plan(plan_cursor, "JEJU_JEJU")
    search_reads = [
        node for node in _nodes(plan) if node.get("Relation Name") == "caregiver_search"
    ]
    assert search_reads, "caregiver_search is not read"
    assert all(node["Node Type"] != "Seq Scan" for node in search_reads)
    indexes = {node.get("Index Name") for node in _nodes(plan)}
    assert "caregiver_search_region_idx" in indexes
    assert not _relations(plan) & NATIONAL_TABLES


def test_no_request_reads_the_national_tables(plan_cursor):
    for region in ("SEOUL_GANGNAM", "GYEONGGI_SUWON", "BUSAN_HAEUNDAE", "JEJU_JEJU"):
        relations = _relations(_plan(plan_cursor, region))
        assert "caregiver_search" in relations
        assert "caregiver_search_counts" in relations
        assert not relations & NATIONAL_TABLES, (region, relations)


def test_the_counters_hold_every_active_caregiver(plan_cursor):
    plan_cursor.execute(
        "SELECT (SELECT sum(caregivers) FROM caregiver_search_counts WHERE is_active) AS counted,"
        " (SELECT count(*) FROM caregivers c JOIN users u USING (user_id)"
        "  WHERE u.is_active AND u.deleted_at IS NULL) AS active"
    )
    row = plan_cursor.fetchone()
    assert row["counted"] == row["active"] == 20_000
