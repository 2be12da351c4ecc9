"""Late and missed visits (shared.visits.watch, the `visit_watch` timer): late once, missed once,
a re-run writes nothing, two runs at once publish once, cancelled and checked-in visits are left
alone. Each test has a database of its own, so every due visit in it is the test's own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.unit_of_work import UnitOfWork
from shared.visits.watch import WatchResult, watch_visits
from tests.factories import cursor, make_parties, make_schedule, make_visit
from tests.manage_cli import logged_events, run_manage, service_env

pytestmark = pytest.mark.integration

NOW = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
LATE_AFTER = timedelta(minutes=15)


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, migrated_database_url: str, azurite) -> str:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    return migrated_database_url


def run(now: datetime, **options: Any) -> WatchResult:
    with UnitOfWork.for_job() as uow:
        return watch_visits(uow, now=now, late_after=LATE_AFTER, **options)


def visit(database_url: str, start: datetime, parties=None, **kw: Any) -> int:
    parties = parties or make_parties(database_url)
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, start.date())
        return make_visit(
            cur,
            schedule_id,
            parties.assigned_caregiver,
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            **kw,
        )


def state(database_url: str, visit_id: int) -> dict[str, Any]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT status, late_at, missed_at, updated_at FROM visits WHERE visit_id = %s",
            (visit_id,),
        )
        row = dict(cur.fetchone())
        cur.execute(
            "SELECT o.event_type, o.channel, o.recipient_user_id, o.payload, u.role"
            " FROM notification_outbox o"
            " JOIN users u ON u.user_id = o.recipient_user_id"
            " WHERE o.payload ->> 'visit_id' = %s ORDER BY o.outbox_id",
            (str(visit_id),),
        )
        row["outbox"] = cur.fetchall()
        cur.execute(
            "SELECT action, actor_role, detail FROM audit_events"
            " WHERE resource_type = 'visit' AND resource_id = %s ORDER BY event_id",
            (str(visit_id),),
        )
        row["audit"] = cur.fetchall()
        return row


def events(row: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted({(o["event_type"], o["role"]) for o in row["outbox"]})


def test_a_visit_not_checked_into_is_late_once_then_missed_once(db: str) -> None:
    start = NOW - timedelta(minutes=20)
    visit_id = visit(db, start)

    # 14 minutes after the start: not late yet.
    assert run(start + timedelta(minutes=14)).late == 0
    assert state(db, visit_id)["late_at"] is None

    first = run(NOW)
    late = state(db, visit_id)
    assert (first.late, first.missed, first.complete) == (1, 0, True)
    assert first.notifications == len(late["outbox"]) > 0
    assert late["status"] == "planned"
    assert late["late_at"] == NOW
    assert late["missed_at"] is None
    assert events(late) == [("visit_late", "admin"), ("visit_late", "guardian")]
    payload = late["outbox"][0]["payload"]
    assert payload["planned_start"] == start.isoformat()
    assert payload["caregiver_name"]
    assert [(a["action"], a["actor_role"], a["detail"]) for a in late["audit"]] == [
        ("update", "timer", {"timer": "visit_watch", "fields": ["late_at"]})
    ]

    # Later runs before the end change nothing and publish nothing.
    again = run(NOW + timedelta(minutes=5))
    assert (again.late, again.missed, again.notifications) == (0, 0, 0)
    assert state(db, visit_id)["outbox"] == late["outbox"]

    end = start + timedelta(hours=2)
    missed = run(end)
    row = state(db, visit_id)
    assert (missed.late, missed.missed) == (0, 1)
    assert row["status"] == "missed"
    assert row["missed_at"] == end
    assert row["late_at"] == NOW
    assert events(row) == [
        ("visit_late", "admin"),
        ("visit_late", "guardian"),
        ("visit_missed", "admin"),
        ("visit_missed", "guardian"),
    ]

    rerun = run(end + timedelta(hours=1))
    assert (rerun.late, rerun.missed, rerun.notifications) == (0, 0, 0)
    assert state(db, visit_id)["outbox"] == row["outbox"]


def test_a_visit_found_after_its_end_is_missed_without_being_late(db: str) -> None:
    visit_id = visit(db, NOW - timedelta(hours=3))

    result = run(NOW)

    row = state(db, visit_id)
    assert (result.late, result.missed) == (0, 1)
    assert row["status"] == "missed"
    assert row["late_at"] is None
    assert {e for e, _ in events(row)} == {"visit_missed"}


def test_cancelled_checked_in_and_completed_visits_are_left_alone(db: str) -> None:
    parties = make_parties(db)
    start = NOW - timedelta(hours=3)
    cancelled = visit(db, start, parties, status="cancelled")
    completed = visit(
        db,
        start - timedelta(days=1),
        parties,
        check_in_at=start - timedelta(days=1),
        check_out_at=start - timedelta(days=1) + timedelta(hours=2),
    )
    in_progress = visit(db, NOW - timedelta(minutes=30), parties, check_in_at=NOW)
    before = {v: state(db, v) for v in (cancelled, completed, in_progress)}

    result = run(NOW + timedelta(hours=3))

    assert (result.late, result.missed, result.notifications) == (0, 0, 0)
    for visit_id, row in before.items():
        assert state(db, visit_id) == row


def test_bounded_batches_finish_over_several_transactions(db: str) -> None:
    parties = make_parties(db)
    ids = [visit(db, NOW - timedelta(minutes=20 + i), parties) for i in range(5)]

    partial = run(NOW, batch_size=2, max_batches=2)
    assert (partial.late, partial.batches, partial.complete) == (4, 2, False)

    rest = run(NOW, batch_size=2, max_batches=5)
    assert (rest.late, rest.complete) == (1, True)
    assert all(state(db, v)["late_at"] == NOW for v in ids)


def test_two_runs_at_once_mark_and_publish_each_visit_once(db: str) -> None:
    ids: list[int] = []
    for _ in range(3):
        parties = make_parties(db)
        ids += [visit(db, NOW - timedelta(minutes=20 + i), parties) for i in range(8)]
    barrier = threading.Barrier(2)
    results: list[WatchResult] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(run(NOW, batch_size=3))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors
    assert sum(r.late for r in results) == len(ids)
    for visit_id in ids:
        row = state(db, visit_id)
        assert row["late_at"] == NOW
        sent = [(o["event_type"], o["recipient_user_id"], o["channel"]) for o in row["outbox"]]
        assert len(sent) == len(set(sent)) > 0
        assert len(row["audit"]) == 1
    with cursor(db) as cur:
        cur.execute(
            "SELECT count(*) AS n, count(DISTINCT dedupe_key) AS keys FROM notification_outbox"
        )
        counts = cur.fetchone()
    assert counts["n"] == counts["keys"] == sum(r.notifications for r in results)


def test_now_must_be_timezone_aware(db: str) -> None:
    with pytest.raises(ValueError, match="timezone"):
        run(NOW.replace(tzinfo=None))


def test_manage_run_timer_visit_watch_logs_its_counts(db: str, azurite) -> None:
    # The command runs on the server's clock: a visit two hours past its end is missed.
    visit_id = visit(db, datetime.now(UTC) - timedelta(hours=4))

    result = run_manage("run-timer", "visit_watch", env=service_env(db, azurite))

    assert result.returncode == 0, result.stderr
    assert "visit_watch finished" in result.stdout
    [completed] = [
        e for e in logged_events(result.stderr) if e.get("event") == "visit_watch_completed"
    ]
    assert completed["function"] == "visit_watch"
    assert (completed["missed"], completed["late"], completed["complete"]) == (1, 0, True)
    assert state(db, visit_id)["status"] == "missed"
