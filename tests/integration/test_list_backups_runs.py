"""`list-backups --runs`: chains (a full backup with its incrementals) newest full first, single
runs of one `--kind`, and `--since` as a duration or an ISO date, on a recorded history of four
nights with their incrementals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import cursor
from tests.manage_cli import run_manage, service_env

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
INCREMENTALS_PER_NIGHT = 4


def backup_id(kind: str, at: datetime) -> str:
    return f"{'full' if kind == 'full' else 'incr'}-{at:%Y%m%dT%H%M%S}Z-t{at:%d%H%M}"


def record(cur, kind: str, at: datetime, *, base: str | None = None, error: str | None = None):
    run_id = backup_id(kind, at)
    cur.execute(
        """
        INSERT INTO ops_backup_runs (backup_id, kind, status, started_at, finished_at,
            base_backup_id, snapshot_at, rows, bytes, blob_prefix, requested_by, error)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'timer', %s)
        """,
        (
            run_id, kind, "failed" if error else "succeeded", at, at + timedelta(seconds=30),
            base, None if error else at, 100, 2048, f"data/{run_id}", error,
        ),
    )  # fmt: skip
    return run_id


@pytest.fixture
def history(migrated_database_url) -> dict[str, list[str]]:
    """Full backups 10, 2, 1 and 0 days ago, each followed by incrementals every 15 minutes;
    the newest chain's second incremental failed."""
    fulls, incrementals = [], []
    with cursor(migrated_database_url) as cur:
        for days in (10, 2, 1, 0):
            night = NOW - timedelta(days=days, hours=2)
            full = record(cur, "full", night)
            fulls.append(full)
            for n in range(1, INCREMENTALS_PER_NIGHT + 1):
                error = "BlobError: timeout" if (days, n) == (0, 2) else None
                at = night + timedelta(minutes=15 * n)
                incrementals.append(record(cur, "incremental", at, base=full, error=error))
    return {"full": fulls[::-1], "incremental": incrementals[::-1]}


def list_runs(env, *args: str) -> list[str]:
    result = run_manage("list-backups", "--runs", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.fixture
def env(migrated_database_url, azurite) -> dict[str, str]:
    return service_env(migrated_database_url, azurite)


def test_chains_newest_full_first_with_their_incrementals_summarised(history, env):
    lines = list_runs(env, "--limit", "2")
    full_lines = [line for line in lines if line.startswith("full-")]
    assert [line.split()[0] for line in full_lines] == history["full"][:2]
    assert lines[1].startswith(history["full"][0])  # right under the header
    assert "+ 4 incrementals (1 failed, 3 succeeded)" in lines[2]
    failed = [line for line in lines if "error: BlobError: timeout" in line]
    assert len(failed) == 1
    assert failed[0].strip().startswith("incr-")
    assert lines[-1] == "2 chains (newest full backup first)"


def test_kind_lists_single_runs_of_that_kind_newest_first(history, env):
    fulls = list_runs(env, "--kind", "full")
    assert [line.split()[0] for line in fulls[1:-1]] == history["full"]
    assert fulls[-1] == "4 full runs (newest first)"

    incrementals = list_runs(env, "--kind", "incremental", "--limit", "3")
    assert [line.split()[0] for line in incrementals[1:-1]] == history["incremental"][:3]


def test_since_takes_a_duration_or_an_iso_date_or_time(history, env):
    recent = list_runs(env, "--since", "5d")
    assert recent[-1] == "3 chains (newest full backup first)"
    assert history["full"][-1] not in "\n".join(recent)  # the chain of 10 days ago

    day = (NOW - timedelta(days=5)).date().isoformat()
    assert list_runs(env, "--since", day)[-1] == "3 chains (newest full backup first)"

    moment = (NOW - timedelta(days=1, hours=3)).isoformat()
    since_moment = list_runs(env, "--since", moment, "--kind", "full")
    assert [line.split()[0] for line in since_moment[1:-1]] == history["full"][:2]


def test_a_bad_since_is_a_usage_error(env):
    result = run_manage("list-backups", "--runs", "--since", "last tuesday", env=env)
    assert result.returncode == 2
    assert "not a duration or ISO 8601 time" in result.stderr
