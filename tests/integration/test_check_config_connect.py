"""`manage.py check-config --connect`: the troubleshooting table's database connectivity check,
the Functions equivalent of logging in from the App Service console."""

from __future__ import annotations

import pytest

from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.integration


def test_it_logs_in_as_the_app_does_and_says_as_whom(database_url):
    result = run_manage("check-config", "--connect", env=manage_env(DATABASE_URL=database_url))
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("database: ")]
    database = database_url.rsplit("/", 1)[1]
    assert line.startswith(f"database: connected as postgres to {database} (PostgreSQL ")


def test_a_server_that_does_not_answer_fails_with_the_reason_and_no_password():
    url = "postgresql://app:not-shown-s3cret@127.0.0.1:9/neulbomcare?connect_timeout=2"
    result = run_manage("check-config", "--connect", env=manage_env(DATABASE_URL=url))
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("database: ")]
    assert "Connection refused" in line
    assert "not-shown-s3cret" not in result.stdout + result.stderr


def test_a_refused_login_is_named(database_url):
    url = database_url.replace("postgres@", "no_such_login_x@", 1)
    result = run_manage("check-config", "--connect", env=manage_env(DATABASE_URL=url))
    assert result.returncode == 1
    assert 'role "no_such_login_x" does not exist' in result.stdout


def test_without_connect_nothing_is_contacted():
    url = "postgresql://app@127.0.0.1:9/neulbomcare"
    result = run_manage("check-config", env=manage_env(DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    assert "database: " not in result.stdout
