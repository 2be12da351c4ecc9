"""`make fuzz` and its nightly workflow: several seeds, more examples than `make test`'s
conformance test, the stateful phase, and deselected from `make test` without being skipped."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.unit.test_workflows import WORKFLOWS, load, makefile_targets, steps

REPO_ROOT = Path(__file__).resolve().parents[2]


def _makefile() -> str:
    return (REPO_ROOT / "Makefile").read_text(encoding="utf-8")


def test_make_fuzz_runs_several_seeds_and_more_examples_than_make_test() -> None:
    text = _makefile()
    assert "fuzz" in makefile_targets()
    assert re.search(r"^fuzz: .*## ", text, re.MULTILINE), "listed by `make help`"
    seeds = re.search(r"^FUZZ_SEEDS\s*\?=\s*(.+)$", text, re.MULTILINE)
    examples = re.search(r"^FUZZ_EXAMPLES\s*\?=\s*(\d+)$", text, re.MULTILINE)
    assert seeds is not None
    assert len(seeds[1].split()) >= 3
    assert examples is not None
    assert int(examples[1]) > 8
    recipe = text.split("\nfuzz:", 1)[1].split("\n\n", 1)[0]
    assert "-m fuzz" in recipe
    assert "tests/fuzz" in recipe


def test_the_fuzz_workflow_runs_nightly_and_on_demand_against_postgres() -> None:
    workflow = load(WORKFLOWS / "fuzz.yml")
    assert workflow["on"]["schedule"][0]["cron"]
    assert "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["fuzz"]
    assert "5432:5432" in job["services"]["postgres"]["ports"]
    runs = [step["run"] for _, step in steps(workflow) if "run" in step]
    assert runs == ["make fuzz"]
    # Dispatch inputs reach make through the environment, never spliced into a script.
    assert not any("inputs." in run for run in runs)


#: Collection only, in one process (make test's -n would start workers for nothing).
PYTEST_COLLECT: tuple[str, ...] = (sys.executable, "-m", "pytest", "--collect-only", "-q")
PYTEST_COLLECT += ("-n", "0", "-p", "no:cacheprovider")


def _collect(*args: str) -> str:
    result = subprocess.run(
        [*PYTEST_COLLECT, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout + result.stderr


def test_the_fuzz_tests_are_deselected_unless_selected_with_m_fuzz() -> None:
    plain = _collect("tests/fuzz")
    assert re.search(r"no tests collected \(\d+ deselected\)", plain), plain[-500:]
    unit_run = _collect("-m", "not integration", "tests/fuzz")
    assert re.search(r"no tests collected \(\d+ deselected\)", unit_run), unit_run[-500:]
    selected = _collect("-m", "fuzz", "tests/fuzz")
    count = re.search(r"(\d+) tests collected", selected)
    assert count is not None, selected[-500:]
    assert int(count[1]) > 100
    assert "test_stateful_links" in selected
