"""The GitHub workflows and the smoke script, checked offline.

actionlint cannot be installed here (its PyPI wrapper downloads the binary when it is built), so
`make lint-infra` validates the workflows against GitHub's published schema (check-jsonschema's
vendored copy) and shellchecks the scripts; these tests add what a schema cannot know: that each
`make X` is a real target, that deploy runs migrations before the package and the smoke test
after it, that each branch goes to its environment, and that the variables it reads are what
infra/main.bicep outputs.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_infra_files import MAIN, section

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
SMOKE = REPO_ROOT / "scripts" / "smoke.sh"
#: Variables of the GitHub environments that are not outputs of main.bicep: the OIDC login.
LOGIN_VARIABLES = {"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"}


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in workflow["jobs"].items() for step in spec.get("steps", [])]


MAKE_CALL = re.compile(r"(?:^|[;&|]\s*|\n)\s*make\s+([A-Za-z0-9_.-]+)")


def makefile_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+):(?!=)", text, re.MULTILINE))


def step_index(job: dict[str, Any], predicate) -> int:
    return next(i for i, step in enumerate(job["steps"]) if predicate(step))


def test_the_two_workflows_exist() -> None:
    assert {p.name for p in WORKFLOW_FILES} >= {"ci.yml", "deploy.yml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflows_are_well_formed(path: Path) -> None:
    workflow = load(path)
    assert workflow["name"]
    assert workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}, "least privilege by default"
    for name, job in workflow["jobs"].items():
        assert ("runs-on" in job) != ("uses" in job), name
        if "uses" in job:
            target = REPO_ROOT / job["uses"]
            assert target.is_file(), job["uses"]
            assert "workflow_call" in load(target)["on"]
        for need in [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []):
            assert need in workflow["jobs"], f"{name} needs an unknown job {need}"
    for job, step in steps(workflow):
        assert ("uses" in step) != ("run" in step), f"{job}: {step}"
        if "uses" in step:
            assert re.search(r"@v\d+(\.\d+)*$", step["uses"]), f"pin a version: {step['uses']}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_make_calls_name_real_targets(path: Path) -> None:
    targets = makefile_targets()
    calls = [
        target for _, step in steps(load(path)) for target in MAKE_CALL.findall(step.get("run", ""))
    ]
    assert set(calls) <= targets, set(calls) - targets
    if path.name == "ci.yml":
        assert set(calls) == {"lint", "test", "audit"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_scripts_called_by_workflows_exist(path: Path) -> None:
    for _, step in steps(load(path)):
        for script in re.findall(r"\b(scripts/[\w.-]+)", step.get("run", "")):
            assert (REPO_ROOT / script).is_file(), script


def test_ci_tests_against_a_postgres_service_on_the_projects_python() -> None:
    ci = load(WORKFLOWS / "ci.yml")
    test_job = ci["jobs"]["test"]
    postgres = test_job["services"]["postgres"]

    assert postgres["image"].startswith("postgres:")
    assert "5432:5432" in postgres["ports"]  # devtools.database looks at 127.0.0.1:5432
    assert "POSTGRES_PASSWORD" not in postgres.get("env", {})
    assert {"push", "pull_request", "workflow_call"} <= set(ci["on"])
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    requires_line = re.search(r"requires-python = (.*)", pyproject)
    assert requires_line is not None
    requires = requires_line[1]
    assert f'">={ci["env"]["PYTHON_VERSION"]},' in requires  # the Function App runs 3.11 too
    for job in ("lint", "test", "audit"):
        assert any("make" in step.get("run", "") for step in ci["jobs"][job]["steps"]), job


def test_deploy_sends_develop_to_staging_and_main_to_production() -> None:
    deploy = load(WORKFLOWS / "deploy.yml")
    job = deploy["jobs"]["deploy"]

    assert set(deploy["on"]["push"]["branches"]) == {"main", "develop"}
    environment = job["environment"]["name"]
    assert environment == "${{ github.ref_name == 'main' && 'production' || 'staging' }}"
    assert job["needs"] == "build"
    assert deploy["jobs"]["build"]["needs"] == "ci"
    assert deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert job["permissions"]["id-token"] == "write"  # OIDC, no stored credentials
    assert deploy["concurrency"]["cancel-in-progress"] is False  # never stop a migration


def test_deploy_triggers_on_every_part_of_the_app() -> None:
    paths = load(WORKFLOWS / "deploy.yml")["on"]["push"]["paths"]
    for pattern in paths:
        assert (REPO_ROOT / pattern.removesuffix("/**")).exists(), pattern
    for needed in ("function_app.py", "requirements.txt", "shared/**", "migrations/**"):
        assert needed in paths


def test_deploy_migrates_then_deploys_then_smoke_tests() -> None:
    job = load(WORKFLOWS / "deploy.yml")["jobs"]["deploy"]

    migrate = step_index(job, lambda s: "alembic upgrade head" in s.get("run", ""))
    package = step_index(job, lambda s: s.get("uses", "").startswith("Azure/functions-action"))
    smoke = step_index(job, lambda s: "scripts/smoke.sh" in s.get("run", ""))
    close = step_index(job, lambda s: "firewall-rule delete" in s.get("run", ""))

    assert migrate < package < smoke
    assert migrate < close
    assert job["steps"][close]["if"].startswith("always()")
    deploy_with = job["steps"][package]["with"]
    assert deploy_with["sku"] == "flexconsumption"
    # The built package, dependencies included: what was tested is what a rollback redeploys.
    assert deploy_with["package"] == "dist/package-${{ env.PACKAGE_SHA }}.zip"
    assert deploy_with["remote-build"] is False


def test_the_build_keeps_the_package_under_its_commit_without_what_funcignore_lists() -> None:
    build = load(WORKFLOWS / "deploy.yml")["jobs"]["build"]
    script = next(s["run"] for s in build["steps"] if "python_packages" in s.get("run", ""))
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-art"))

    assert ".funcignore" in script
    assert "-r requirements.txt" in script
    assert upload["with"]["name"] == "package-${{ github.sha }}"
    assert upload["with"]["retention-days"] >= 90


def test_production_takes_a_verified_full_backup_before_migrating() -> None:
    job = load(WORKFLOWS / "deploy.yml")["jobs"]["deploy"]
    backup = step_index(job, lambda s: "manage.py backup" in s.get("run", ""))
    migrate = step_index(job, lambda s: "alembic upgrade head" in s.get("run", ""))
    step = job["steps"][backup]

    assert backup < migrate
    assert "github.ref_name == 'main'" in step["if"], "production only"
    assert "verify-backup latest" in step["run"]
    # Skipped (exit 75: an incremental holds the lock) is waited out; any other failure stops.
    assert '"$status" -ne 75' in step["run"]
    assert "exit 1" in step["run"]
    assert step["env"]["STORAGE_ACCOUNT_URL"] == "${{ vars.STORAGE_ACCOUNT_URL }}"
    # As the owner, whatever DATABASE_AUTH the app uses; every value masked, none from a file.
    assert "secrets/DatabaseOwnerURL" in step["run"]
    assert "secrets/BackupSigningKey" in step["run"]
    assert step["run"].count("::add-mask::") == 2
    assert 'KEY_VAULT_URL=""' in step["run"]


def test_a_rollback_redeploys_a_kept_package_without_tests_or_migrations() -> None:
    deploy = load(WORKFLOWS / "deploy.yml")
    job = deploy["jobs"]["deploy"]
    rollback = deploy["on"]["workflow_dispatch"]["inputs"]["rollback_sha"]

    assert rollback["type"] == "string"
    assert rollback["default"] == ""
    assert deploy["jobs"]["ci"]["if"].startswith("inputs.rollback_sha == ''")
    assert "inputs.rollback_sha != ''" in job["if"]
    assert "!cancelled()" in job["if"]
    assert job["env"]["PACKAGE_SHA"] == "${{ inputs.rollback_sha || github.sha }}"
    assert job["permissions"]["actions"] == "read"  # another run's artifact
    for marker in ("manage.py backup", "alembic upgrade head", "db-roles", "firewall-rule create"):
        step = job["steps"][step_index(job, lambda s, m=marker: m in s.get("run", ""))]
        assert "env.ROLLBACK_SHA == ''" in step["if"], marker
    fetch = job["steps"][step_index(job, lambda s: "gh run download" in s.get("run", ""))]
    assert fetch["if"] == "env.ROLLBACK_SHA != ''"
    smoke = job["steps"][step_index(job, lambda s: "scripts/smoke.sh" in s.get("run", ""))]
    assert "if" not in smoke, "a rollback is smoke-tested too"


def test_deploy_reads_only_variables_that_the_infrastructure_outputs() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\bvars\.(\w+)", text))
    outputs = set(section(MAIN, "outputs"))

    assert used
    assert used <= outputs | LOGIN_VARIABLES, used - outputs - LOGIN_VARIABLES
    assert "secrets." not in text, "the pipeline needs no stored secret"


def test_smoke_script_is_executable_bash_that_parses() -> None:
    assert os.access(SMOKE, os.X_OK)
    assert SMOKE.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in SMOKE.read_text(encoding="utf-8")
    result = subprocess.run(["bash", "-n", str(SMOKE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
