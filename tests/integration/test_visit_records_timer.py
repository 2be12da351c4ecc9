"""The monthly_visit_records job: on the 1st in Korea it writes last month's record of every
patient with visits, in batches; the next run finds the month completed; a run out of time is
continued by the next; an overlapping run skips; each record's export is audited as the timer;
an operator writes a month by hand."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from functions.visit_records import run_monthly
from models.dates import KOREA
from shared.backup.locks import job_lock
from shared.visit_records import service
from shared.visit_records.builder import Month
from tests.factories import (
    Parties,
    cursor,
    make_caregiver,
    make_guardian,
    make_matching,
    make_patient,
)
from tests.integration.visit_records_data import CONTAINER, last_month, write_month
from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.integration


def first_of_this_month_1am() -> datetime:
    return datetime.combine(last_month().next().first_day, datetime.min.time(), KOREA).replace(
        hour=1
    )


@pytest.fixture
def container(app_env: Any, monkeypatch: Any) -> str:
    """A container of this test's own: the job's progress of a month is kept there."""
    name = f"visit-records-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("VISIT_RECORD_CONTAINER", name)
    return name


def blob_names(blob_service: Any, patient_ids: list[int], month: Month, container: str) -> set[str]:
    client = blob_service.get_container_client(container)
    if not client.exists():
        return set()
    return {
        b.name for p in patient_ids for b in client.list_blobs(name_starts_with=f"{p}/{month.text}")
    }


def timer_exports(database_url: str, patient_ids: list[int]) -> list[tuple[str, str]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT actor_role, detail->>'timer' AS timer FROM audit_events"
            " WHERE patient_id = ANY(%s) AND action = 'export' AND resource_type = 'visit_record'",
            (patient_ids,),
        )
        return [(r["actor_role"], r["timer"]) for r in cur.fetchall()]


def test_on_the_1st_last_month_s_records_are_written_once(
    container: str, database_url: str, parties: Parties, blob_service: Any
) -> None:
    with cursor(database_url) as cur:
        write_month(cur, parties.patient_id, parties.assigned_caregiver)
        other_guardian = make_guardian(cur)
        other = make_patient(cur, other_guardian)
        caregiver = make_caregiver(cur)
        make_matching(cur, other, caregiver, status="active")
        write_month(cur, other, caregiver)
    patients = [parties.patient_id, other]
    month = last_month()

    first = run_monthly(first_of_this_month_1am())
    assert first is not None
    assert first["failed"] == 0
    assert first["written"] >= 2
    assert first["completed"] == 1
    assert blob_names(blob_service, patients, month, container) == {
        f"{p}/{month.text}.{ext}" for p in patients for ext in ("json", "pdf")
    }
    assert timer_exports(database_url, patients) == [("timer", "monthly_visit_records")] * 2

    # The next hour's run finds the month completed and does nothing.
    later = run_monthly(first_of_this_month_1am() + timedelta(hours=1))
    assert later == {**dict.fromkeys(first, 0), "completed": 1}
    # Asked again by hand, every record is compared and none rewritten.
    again = service.generate_month(month, batch_size=1)
    assert again["written"] == 0
    assert again["unchanged"] == again["patients"] == first["patients"]


def test_a_run_out_of_time_is_continued_by_the_next_one(
    container: str, database_url: str, parties: Parties, blob_service: Any
) -> None:
    month = last_month()
    with cursor(database_url) as cur:
        write_month(cur, parties.patient_id, parties.assigned_caregiver)
        cur.execute(
            "SELECT count(DISTINCT patient_id) AS n FROM visits"
            " WHERE planned_start >= %s AND planned_start < %s",
            (month.start, month.end),
        )
        expected = cur.fetchone()["n"]
    runs: list[dict[str, int]] = []
    while not runs or not runs[-1]["completed"]:
        # No time at all: each run does one batch of one patient, then stops.
        runs.append(service.generate_month(month, batch_size=1, budget_seconds=0, resume=True))
        assert len(runs) <= expected + 1
    assert sum(run["patients"] for run in runs) == expected
    assert all(run["patients"] == 1 for run in runs[:-1])
    assert blob_names(blob_service, [parties.patient_id], month, container)


def test_an_overlapping_run_skips(app_env: Any, database_url: str) -> None:
    with job_lock(database_url, service.TIMER_NAME) as held:
        assert held.acquired
        assert run_monthly(first_of_this_month_1am()) is None


def test_an_operator_writes_a_month_s_records_by_hand(
    base_app_env: dict[str, str], database_url: str, parties: Parties, blob_service: Any
) -> None:
    with cursor(database_url) as cur:
        write_month(cur, parties.patient_id, parties.assigned_caregiver)
    month = last_month()
    env = manage_env(**base_app_env)
    result = run_manage("visit-records", month.text, "--batch-size", "2", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["month"] == month.text
    assert counts["failed"] == 0
    assert blob_names(blob_service, [parties.patient_id], month, CONTAINER) == {
        f"{parties.patient_id}/{month.text}.json",
        f"{parties.patient_id}/{month.text}.pdf",
    }
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT actor_role FROM audit_events WHERE patient_id = %s AND action = 'export'",
            (parties.patient_id,),
        )
        assert [r["actor_role"] for r in cur.fetchall()] == ["operator"]

    bad = run_manage("visit-records", "2026-13", env=env)
    assert bad.returncode == 1
    assert "YYYY-MM" in bad.stderr
    for month_text, says in (("1999-12", "records begin with"), ("2999-01", "has not begun")):
        refused = run_manage("visit-records", month_text, env=env)
        assert refused.returncode == 1
        assert says in refused.stderr
        assert "Traceback" not in refused.stderr
