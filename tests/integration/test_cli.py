"""`manage.py` run as operators run it: a real subprocess, settings from the environment only."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

import manage
from devtools.database import ALEMBIC_INI, current_revision
from shared.auth.passwords import verify_password
from tests.manage_cli import manage_env, run_manage, service_env

pytestmark = pytest.mark.integration

REPO_ROOT = Path(manage.__file__).resolve().parent
ADMIN_PASSWORD = "correct-horse-battery-staple-42"


# -- help -------------------------------------------------------------------------------------


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = manage.build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1, "manage.py should have one set of subcommands"
    return dict(actions[0].choices)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_top_level_help_lists_every_command() -> None:
    result = run_manage("--help", env=manage_env())

    assert result.returncode == 0, result.stderr
    out = _flat(result.stdout)
    assert _flat(manage.build_parser().description or "") in out
    for name in _subcommands():
        assert name in out


def test_there_are_commands_to_check() -> None:
    assert {"migrate", "seed-demo", "create-admin", "run-timer", "check-config"} <= set(
        _subcommands()
    )


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_command_has_help(command: str) -> None:
    description = (_subcommands()[command].description or "").strip()
    assert description, f"{command} has no description (give its handler a docstring)"

    result = run_manage(command, "--help", env=manage_env())

    assert result.returncode == 0, result.stderr
    assert f"usage: manage.py {command}" in result.stdout
    assert _flat(description) in _flat(result.stdout)


# -- create-admin -----------------------------------------------------------------------------


def _unique_email(prefix: str = "ops") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def _users_with_email(database_url: str, email: str) -> list[dict]:
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(
                "SELECT user_id, email, name, role, password_hash FROM users"
                " WHERE lower(email) = lower(%s)",
                (email,),
            )
            return [dict(row) for row in cur.fetchall()]
    finally:
        conn.close()


def test_create_admin_reads_the_password_from_stdin(database_url: str, azurite) -> None:
    email = _unique_email()

    result = run_manage(
        "create-admin",
        email,
        "--name",
        "야간 운영자",
        env=service_env(database_url, azurite),
        stdin=ADMIN_PASSWORD + "\n",
    )

    assert result.returncode == 0, result.stderr
    assert email in result.stdout
    assert ADMIN_PASSWORD not in result.stdout + result.stderr
    [user] = _users_with_email(database_url, email)
    assert user["role"] == "admin"
    assert user["name"] == "야간 운영자"
    assert str(user["user_id"]) in result.stdout
    assert user["password_hash"].startswith("$argon2id$")
    assert verify_password(user["password_hash"], ADMIN_PASSWORD)
    assert not verify_password(user["password_hash"], ADMIN_PASSWORD + "x")


def test_create_admin_refuses_a_taken_email(database_url: str, azurite) -> None:
    email = _unique_email()
    env = service_env(database_url, azurite)
    first = run_manage("create-admin", email, env=env, stdin=ADMIN_PASSWORD + "\n")
    assert first.returncode == 0, first.stderr
    [before] = _users_with_email(database_url, email)

    other_password = "another-long-password-99"
    second = run_manage("create-admin", email.upper(), env=env, stdin=other_password + "\n")

    assert second.returncode != 0
    assert "already exists" in second.stderr
    assert other_password not in second.stdout + second.stderr
    assert _users_with_email(database_url, email) == [before]
    assert verify_password(before["password_hash"], ADMIN_PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        (None, "short-pw", "at least 10 characters"),
        ("not-an-email", ADMIN_PASSWORD, "not a valid email address"),
        ("two@@example.com", ADMIN_PASSWORD, "not a valid email address"),
        ("", ADMIN_PASSWORD, "not a valid email address"),
    ],
    ids=["short-password", "no-at-sign", "two-at-signs", "empty"],
)
def test_create_admin_rejects_bad_input_and_writes_nothing(
    database_url: str, azurite, email: str | None, password: str, message: str
) -> None:
    email = _unique_email("bad") if email is None else email

    result = run_manage(
        "create-admin", email, env=service_env(database_url, azurite), stdin=password + "\n"
    )

    assert result.returncode != 0
    assert message in result.stderr
    assert password not in result.stdout + result.stderr
    assert _users_with_email(database_url, email) == []


# -- check-config -----------------------------------------------------------------------------


def test_check_config_summarises_without_secret_values() -> None:
    jwt_secret = "jwt-" + uuid.uuid4().hex + uuid.uuid4().hex
    db_password = "Pw" + uuid.uuid4().hex
    database_url = f"postgresql://app_user:{db_password}@db.example.com:5432/neulbomcare"

    result = run_manage(
        "check-config",
        env=manage_env(APP_ENV="development", JWT_SECRET=jwt_secret, DATABASE_URL=database_url),
    )

    assert result.returncode == 0, result.stderr
    assert "Settings OK for development" in result.stdout
    output = result.stdout + result.stderr
    for secret in (jwt_secret, db_password, database_url):
        assert secret not in output
    lines = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines() if line}
    assert lines["jwt_secret"] == "(set)"
    assert lines["database_url"] == "(set)"


def test_check_config_refuses_an_unsafe_production_setting() -> None:
    result = run_manage(
        "check-config",
        env=manage_env(
            APP_ENV="production",
            ALLOWED_HOSTS="*",
            JWT_SECRET="p" * 40,
        ),
    )

    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr
    assert "Settings OK" not in result.stdout


def test_check_config_names_an_unresolved_key_vault_reference() -> None:
    reference = (
        "@Microsoft.KeyVault(SecretUri=https://neulbom-kv.vault.azure.net/secrets/JwtSecret/)"
    )

    result = run_manage("check-config", env=manage_env(JWT_SECRET=reference))

    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr
    assert "Key Vault reference" in result.stderr
    assert "Settings OK" not in result.stdout


# -- migrate ----------------------------------------------------------------------------------


def test_migrate_brings_an_empty_database_to_head(empty_database_url: str, azurite) -> None:
    head = ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()
    assert head is not None
    assert current_revision(empty_database_url) is None

    result = run_manage("migrate", env=service_env(empty_database_url, azurite))

    assert result.returncode == 0, result.stderr
    assert current_revision(empty_database_url) == head
    assert f"database at revision {head}" in result.stdout


def test_set_password_lets_an_imported_account_sign_in(database_url: str, azurite) -> None:
    from tests.factories import cursor, make_user

    with cursor(database_url) as cur:
        user = make_user(cur, "caregiver", with_password=False)
    env = service_env(database_url, azurite, APP_ENV="development")

    result = run_manage("set-password", user.email, env=env, stdin="a-new-password-42\n")

    assert result.returncode == 0, result.stderr
    assert user.email in result.stdout
    assert "a-new-password-42" not in result.stdout + result.stderr
    with cursor(database_url) as cur:
        cur.execute("SELECT password_hash FROM users WHERE user_id = %s", (user.user_id,))
        assert verify_password(cur.fetchone()["password_hash"], "a-new-password-42")


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("nobody-{}@test.neulbomcare.kr", "a-long-enough-password", "no account"),
        (None, "short", "10 to 256 characters"),
    ],
)
def test_set_password_refuses_unknown_accounts_and_short_passwords(
    database_url: str, azurite, email, password, message
) -> None:
    from tests.factories import cursor, make_user

    with cursor(database_url) as cur:
        user = make_user(cur, "guardian", with_password=False)
    target = email.format(uuid.uuid4().hex) if email else user.email
    env = service_env(database_url, azurite, APP_ENV="development")

    result = run_manage("set-password", target, env=env, stdin=password + "\n")

    assert result.returncode == 1
    assert message in result.stderr
    with cursor(database_url) as cur:
        cur.execute("SELECT password_hash FROM users WHERE user_id = %s", (user.user_id,))
        assert cur.fetchone()["password_hash"] is None
