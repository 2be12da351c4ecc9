"""The deployment keeps the app off the owner's role (migration 0006, review item 5).

Key Vault `DatabaseURL`, the only database URL the app reads, names the app's own login; the
owner's (the server admin's) URL is `DatabaseOwnerURL`, used by the pipeline for `alembic upgrade
head` and `manage.py db-roles`, which runs right after the migration.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRETS = REPO_ROOT / "infra" / "app" / "secrets.bicep"
MAIN = REPO_ROOT / "infra" / "main.bicep"
DEPLOY = REPO_ROOT / ".github" / "workflows" / "deploy.yml"


def _secret_value(name: str) -> str:
    text = SECRETS.read_text(encoding="utf-8")
    block = re.search(rf"name: '{name}'\n(.*?)\n}}", text, re.DOTALL)
    assert block is not None, name
    value = re.search(r"value: '([^']*)'", block.group(1))
    assert value is not None, name
    return value.group(1)


def test_the_apps_database_url_names_the_app_login_not_the_admin() -> None:
    app_url = _secret_value("DatabaseURL")
    assert "postgresAppLogin" in app_url
    assert "postgresAppPassword" in app_url
    assert "postgresAdmin" not in app_url

    owner_url = _secret_value("DatabaseOwnerURL")
    assert "postgresAdminLogin" in owner_url
    assert "postgresAdminPassword" in owner_url


def test_the_app_password_is_a_secure_parameter_passed_to_the_secrets() -> None:
    text = MAIN.read_text(encoding="utf-8")
    secure_param = (
        r"@secure\(\)\n@minLength\(16\)\n@description\([^\n]*\)\n"
        r"param postgresAppPassword string\n"
    )
    assert re.search(secure_param, text)
    assert "postgresAppPassword: postgresAppPassword" in text
    assert "postgresAppLogin: postgresAppLogin" in text


def _deploy_runs() -> list[str]:
    job = yaml.safe_load(DEPLOY.read_text(encoding="utf-8"))["jobs"]["deploy"]
    return [step.get("run", "") for step in job["steps"]]


def test_deploy_migrates_as_the_owner_then_sets_up_the_app_login_before_the_package() -> None:
    job = yaml.safe_load(DEPLOY.read_text(encoding="utf-8"))["jobs"]["deploy"]
    runs = _deploy_runs()
    migrate = next(i for i, run in enumerate(runs) if "alembic upgrade head" in run)
    roles = next(i for i, run in enumerate(runs) if "manage.py db-roles" in run)
    package = next(
        i
        for i, step in enumerate(job["steps"])
        if step.get("uses", "").startswith("Azure/functions-action")
    )

    assert migrate < roles < package
    assert "DatabaseOwnerURL" in runs[migrate]
    assert "DatabaseOwnerURL" in runs[roles]
    assert "--password-stdin" in runs[roles]
    # The owner's URL and the app's password never reach a log.
    assert runs[migrate].count("::add-mask::") >= 1
    assert runs[roles].count("::add-mask::") >= 2


def test_with_entra_logins_the_deploy_creates_the_identitys_role_before_the_package() -> None:
    """DATABASE_AUTH=entra: the pipeline, the server's Entra administrator, maps a role named
    after the app to its managed identity, and the owner puts it in neulbomcare_app; the
    pipeline's own token is masked."""
    from cli.db_roles import ROLE_NAME

    job = yaml.safe_load(DEPLOY.read_text(encoding="utf-8"))["jobs"]["deploy"]
    names = [step.get("name", "") for step in job["steps"]]
    runs = _deploy_runs()
    entra = next(i for i, name in enumerate(names) if name.startswith("Entra database role"))
    migrate = next(i for i, run in enumerate(runs) if "alembic upgrade head" in run)
    package = next(
        i
        for i, step in enumerate(job["steps"])
        if step.get("uses", "").startswith("Azure/functions-action")
    )
    run = runs[entra]

    assert migrate < entra < package
    assert "pgaadauth_create_principal_with_oid" in run
    assert "--resource-type oss-rdbms" in run
    assert "::add-mask::$PGPASSWORD" in run
    assert '"$(setting DATABASE_AUTH)" != "entra"' in run
    assert 'manage.py db-roles --app-login "$app_role"' in run
    assert "--password-stdin" not in run
    assert job["steps"][entra]["env"]["PGSSLMODE"] == "require"
    # The role is the Function App's name, as infra sets DATABASE_ENTRA_USER.
    assert ROLE_NAME.match("func-neulbom-abc123def")
    assert not ROLE_NAME.match("-leading-dash")
