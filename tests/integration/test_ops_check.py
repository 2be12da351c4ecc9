"""`manage.py ops-check --url URL`: the daily and weekly checklist against a served app, as an
operator runs it. On a fresh database the backup, drill and maintenance checks fail; after a
full and an incremental backup the backup checks pass, and after a drill and maintenance all do.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from devtools.demo_model import ensure_demo_model
from shared.operations.ops_check import (
    CERTIFICATE_EXPIRY_MARGIN,
    CHECK_NAMES,
    Target,
    check_certificate,
    check_key_vault_secrets,
)
from tests.factories import cursor, make_user
from tests.manage_cli import run_manage, service_env

pytestmark = pytest.mark.integration


@pytest.fixture
def operated(migrated_database_url, azurite, backup_container, start_app_server):
    """A served app on a database of its own, with a published model, and an operator's env."""
    settings = {
        "BACKUP_CONTAINER": backup_container.container_name,
        "XGBOOST_MODEL_PATH": f"opscheck{secrets.token_hex(4)}/matching",
    }
    version = ensure_demo_model(
        azurite.connection_string, settings["XGBOOST_MODEL_PATH"], requests=300
    )
    app = start_app_server(DATABASE_URL=migrated_database_url, **settings)
    env = service_env(migrated_database_url, azurite, **settings)
    return app, env, version


def ops_check(app, env, *args: str) -> tuple[int, dict[str, dict]]:
    result = run_manage("ops-check", "--url", app.base_url, "--json", *args, env=env, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(result.stdout)
    assert [sorted(c) for c in document["checks"]] == [["detail", "name", "ok"]] * len(CHECK_NAMES)
    return result.returncode, {c["name"]: c for c in document["checks"]}


def failing(checks: dict[str, dict]) -> set[str]:
    return {name for name, check in checks.items() if not check["ok"]}


def must_succeed(*args: str, env: dict[str, str]) -> None:
    result = run_manage(*args, env=env, timeout=180)
    assert result.returncode == 0, result.stderr


def test_ops_check_follows_the_backups_drill_and_maintenance(operated, migrated_database_url):
    app, env, version = operated

    code, checks = ops_check(app, env)
    assert list(checks) == list(CHECK_NAMES)
    assert code == 1
    assert failing(checks) == {
        "full_backup_age",
        "incremental_backup_age",
        "restore_drill",
        "maintenance",
    }
    assert checks["full_backup_age"]["detail"] == "no full backup has succeeded"
    assert checks["health"]["detail"].startswith("GET 200")
    assert "HEAD 200" in checks["health"]["detail"]
    assert checks["ready"]["detail"] == "200 degraded"  # the backups check is not ok
    assert checks["migrations"]["detail"].startswith("database at ")
    assert checks["certificate"]["detail"] == "not applicable: http URL"
    assert checks["key_vault_secrets"]["detail"] == "not applicable: no KEY_VAULT_URL"
    assert checks["model"]["detail"].startswith(f"published {version} verifies")

    must_succeed("backup", env=env)
    must_succeed("backup", "--incremental", env=env)
    code, checks = ops_check(app, env)
    assert code == 1
    assert failing(checks) == {"restore_drill", "maintenance"}
    assert checks["incremental_backup_age"]["detail"].startswith("incr-")
    assert checks["full_backup_age"]["detail"].endswith("(limit 26.0 h)")

    must_succeed("restore-drill", env=env)
    must_succeed("run-timer", "db_maintenance", env=env)
    with cursor(migrated_database_url) as cur:
        admin = make_user(cur, "admin")
    code, checks = ops_check(app, {**env, "ADMIN_TOKEN": admin.token})
    assert failing(checks) == set()
    assert code == 0
    assert checks["model"]["detail"] == f"published {version}, served {version}"
    # With the token the checks that are not ok are named; the backups one is ok now.
    assert checks["ready"]["detail"].startswith("200 ")
    assert "(" in checks["ready"]["detail"]
    assert "backups" not in checks["ready"]["detail"]
    assert "RTO" in checks["restore_drill"]["detail"]


def test_the_table_marks_each_check_and_exits_1_on_a_failure(operated):
    app, env, _ = operated
    result = run_manage("ops-check", "--url", app.base_url, env=env, timeout=120)
    assert result.returncode == 1
    lines = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()[:10]}
    assert list(lines) == list(CHECK_NAMES)
    assert lines["health"] == "✓"
    assert lines["full_backup_age"] == "✗"
    assert lines["certificate"] == "-"  # not applicable to an http URL
    assert "failed: full_backup_age, incremental_backup_age" in result.stdout


def test_an_unreachable_app_fails_its_checks_without_a_traceback(operated):
    _, env, _ = operated
    result = run_manage("ops-check", "--url", "http://127.0.0.1:9", "--json", env=env)
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["health"]["ok"] is False
    assert checks["health"]["detail"].startswith("no answer")
    assert checks["migrations"]["ok"] is True  # the database is still reachable
    assert "Traceback" not in result.stderr


def test_the_certificate_check_reads_an_https_hosts_expiry(monkeypatch, fake_key_vault, trust_ca):
    """Any HTTPS host will do: the Key Vault fake's, with a certificate of the test CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(trust_ca.pem_path))
    target = Target(fake_key_vault.url)
    now = datetime.now(UTC)

    check = check_certificate(target, now)
    assert check.ok, check.detail
    expires = datetime.strptime(check.detail.split()[1], "%Y-%m-%d").replace(tzinfo=UTC)
    assert expires > now + CERTIFICATE_EXPIRY_MARGIN

    late = check_certificate(target, expires - timedelta(days=3))
    assert not late.ok
    assert "(3 days; limit 14)" in late.detail


def test_key_vault_secrets_expiring_within_30_days_fail(monkeypatch, key_vault_env, fake_key_vault):
    for name, value in key_vault_env.items():
        monkeypatch.setenv(name, value)
    now = datetime.now(UTC).replace(microsecond=500_000)  # whole-second expiries: days round down
    in_days = lambda days: int((now + timedelta(days=days)).timestamp())  # noqa: E731
    fake_key_vault.set_secret("DatabaseURL", "postgresql://app@db/neulbomcare")  # never expires
    fake_key_vault.set_secret(
        "JwtSecret", "a-signing-key-of-forty-characters-x", expires=in_days(90)
    )

    check = check_key_vault_secrets(now)
    assert check.ok, check.detail
    assert check.detail == "2 enabled secrets; first expiry JwtSecret in 89 days"

    fake_key_vault.set_secret(
        "BackupSigningKey", "another-key-of-forty-characters-xx", expires=in_days(10)
    )
    check = check_key_vault_secrets(now)
    assert not check.ok
    assert check.detail == "expiring: BackupSigningKey 9 days"
    assert "forty-characters" not in check.detail
