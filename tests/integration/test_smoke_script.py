"""scripts/smoke.sh, the operator's post-deployment check, run against a served app.

The script is run as an operator runs it (bash, curl, python3) against `manage.py serve`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.app_server import REPO_ROOT, ServedApp, free_port

pytestmark = pytest.mark.integration

SCRIPT = REPO_ROOT / "scripts" / "smoke.sh"
STEPS = ["health", "ready", "register", "login", "me", "dashboard"]
STEP_LINE = re.compile(r"^(PASS|FAIL)\s+(\S+)\s")


def run_smoke(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=Path(REPO_ROOT),
    )


def step_lines(output: str) -> list[tuple[str, str]]:
    """(outcome, step) for each PASS/FAIL line, in order."""
    return [
        (match.group(1), match.group(2))
        for line in output.splitlines()
        if (match := STEP_LINE.match(line))
    ]


def test_every_step_passes_on_a_served_app(app_server: ServedApp) -> None:
    result = run_smoke(app_server.base_url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert step_lines(result.stdout) == [("PASS", step) for step in STEPS]
    assert "all steps passed" in result.stdout


def test_the_ready_line_carries_the_status_anyone_is_told(app_server: ServedApp) -> None:
    ready = app_server.get("health/ready").json()
    assert set(ready) == {"status"}  # the checks are for an admin's token only

    ready_line = next(
        line for line in run_smoke(app_server.base_url).stdout.splitlines() if " ready " in line
    )

    assert ready_line.startswith("PASS")
    assert ready["status"] in ready_line


def test_nothing_listening_fails_at_health_and_exits_non_zero() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = run_smoke(url, timeout=30)

    assert result.returncode == 1
    assert step_lines(result.stdout) == [("FAIL", "health")]
    assert "no answer" in result.stdout
    assert f"FAILED at 'health' against {url}" in result.stdout
    # The failing request can be found in the logs by its request id.
    assert re.search(r"X-Request-ID: smoke-\S+-health", result.stdout)


def test_wait_retries_health_before_failing() -> None:
    result = run_smoke("--wait", "2", f"http://127.0.0.1:{free_port()}", timeout=30)

    assert result.returncode == 1
    assert step_lines(result.stdout) == [("FAIL", "health")]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--wait"],
        ["--wait", "soon", "http://127.0.0.1:1"],
        ["--bogus", "http://x"],
        ["ftp://x"],
    ],
    ids=["no-url", "wait-without-value", "wait-not-a-number", "unknown-option", "not-http"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run_smoke(*args, timeout=30)

    assert result.returncode == 2
    assert step_lines(result.stdout) == []


def test_help_lists_every_step() -> None:
    result = run_smoke("--help", timeout=30)

    assert result.returncode == 0
    assert result.stdout.startswith("Usage: scripts/smoke.sh")
    for step in STEPS:
        assert re.search(rf"^\s+{step}\s", result.stdout, re.MULTILINE), step
