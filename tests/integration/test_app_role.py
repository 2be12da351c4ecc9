"""The app's own database role (migration 0006, review item 5: the app could erase its audit log).

The app logs in as a member of `neulbomcare_app`, not as the owner: it may read and append audit
events but not change, delete, truncate or un-trigger them; the BEFORE TRUNCATE guard refuses even
the superuser; retention pruning goes through `ops_prune_audit_events`, which deletes only events
older than two years. Each test logs in as a LOGIN role of its own in the group (trust
authentication on 127.0.0.1 lets it connect without a password), made with `manage.py db-roles`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import pytest

from shared.backup.drill import run_restore_drill
from shared.backup.writer import run_backup
from shared.operations.maintenance import run_maintenance
from tests.factories import PASSWORD, cursor, make_guardian
from tests.fixtures.app_server import ServedApp
from tests.fixtures.backup import make_changes
from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.integration

APP_GROUP = "neulbomcare_app"


def as_role(url: str, role: str) -> str:
    """The same database, logged in as `role` (no password: trust on 127.0.0.1)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _drop_role(server_url: str, role: str) -> None:
    conn = psycopg2.connect(server_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            cur.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        conn.close()


@pytest.fixture
def app_login(pg_server_url: str, database_url: str) -> Iterator[str]:
    """A LOGIN role in the app's group, created by `manage.py db-roles` as operators do."""
    role = f"neulbom_test_app_{secrets.token_hex(4)}"
    result = run_manage(
        "db-roles",
        "--app-login",
        role,
        env=manage_env(APP_ENV="development", DATABASE_URL=database_url),
    )
    assert result.returncode == 0, result.stderr
    assert f"login role {role} created in group {APP_GROUP}" in result.stdout
    yield role
    _drop_role(pg_server_url, role)


@pytest.fixture
def app_url(database_url: str, app_login: str) -> str:
    return as_role(database_url, app_login)


def _run(url: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _insert_event(url: str, resource_type: str, age: str = "0 seconds") -> int:
    rows = _run(
        url,
        "INSERT INTO audit_events (occurred_at, action, resource_type)"
        " VALUES (now() - %s::interval, 'view', %s) RETURNING event_id",
        (age, resource_type),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


# -- the role's privileges on the audit log ----------------------------------------------------


def test_the_app_role_is_not_the_owner_and_holds_no_attributes(app_url: str) -> None:
    [(user, superuser, createrole, createdb, member)] = _run(
        app_url,
        "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb,"
        " pg_has_role(current_user, %s, 'USAGE') FROM pg_roles WHERE rolname = current_user",
        (APP_GROUP,),
    )
    assert (superuser, createrole, createdb, member) == (False, False, True, True)
    [(owner,)] = _run(app_url, "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'")
    assert owner != user


def test_the_app_role_may_append_and_read_audit_events(app_url: str) -> None:
    event_id = _insert_event(app_url, f"app-role-{secrets.token_hex(3)}")

    assert _run(app_url, "SELECT event_id FROM audit_events WHERE event_id = %s", (event_id,)) == [
        (event_id,)
    ]


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("UPDATE audit_events SET resource_type = 'x' WHERE event_id = %s", "permission denied"),
        ("DELETE FROM audit_events WHERE event_id = %s", "permission denied"),
        ("TRUNCATE audit_events", "permission denied"),
        ("ALTER TABLE audit_events DISABLE TRIGGER ALL", "must be owner"),
        ("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate", "must be owner"),
        ("DROP TRIGGER audit_events_append_only ON audit_events", "must be owner"),
        ("DROP TABLE audit_events", "must be owner"),
        ("ALTER TABLE audit_events OWNER TO CURRENT_USER", "must be owner"),
    ],
)
def test_the_app_role_may_not_change_or_erase_audit_events(
    app_url: str, database_url: str, statement: str, error: str
) -> None:
    event_id = _insert_event(database_url, f"keep-{secrets.token_hex(3)}")
    params = (event_id,) if "%s" in statement else ()

    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match=error):
        _run(app_url, statement, params)

    assert _run(database_url, "SELECT count(*) FROM audit_events WHERE event_id = %s", (event_id,))
    assert _run(
        database_url,
        "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass"
        " AND tgname IN ('audit_events_append_only', 'audit_events_no_truncate')",
    ) == [("O",), ("O",)]


def test_the_app_role_may_not_create_tables(app_url: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _run(app_url, "CREATE TABLE app_made_this (x int)")


# -- the truncate guard ------------------------------------------------------------------------


def test_truncate_is_refused_even_for_the_superuser(database_url: str) -> None:
    event_id = _insert_event(database_url, f"truncate-{secrets.token_hex(3)}")

    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="TRUNCATE is not allowed"):
        _run(database_url, "TRUNCATE audit_events")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="TRUNCATE is not allowed"):
        _run(database_url, "TRUNCATE audit_events, users CASCADE")

    assert _run(database_url, "SELECT 1 FROM audit_events WHERE event_id = %s", (event_id,))


# -- retention pruning -------------------------------------------------------------------------


def test_prune_deletes_only_events_older_than_two_years(
    migrated_database_url: str, pg_server_url: str
) -> None:
    role = f"neulbom_test_app_{secrets.token_hex(4)}"
    result = run_manage(
        "db-roles",
        "--app-login",
        role,
        env=manage_env(APP_ENV="development", DATABASE_URL=migrated_database_url),
    )
    assert result.returncode == 0, result.stderr
    try:
        app = as_role(migrated_database_url, role)
        old = [_insert_event(migrated_database_url, "old", "2 years 1 day") for _ in range(3)]
        young = [
            _insert_event(migrated_database_url, "young", age)
            for age in ("0 seconds", "1 year", "2 years -1 day")
        ]

        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="kept for 2 years"):
            _run(app, "SELECT ops_prune_audit_events(now() - interval '1 year')")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="kept for 2 years"):
            _run(migrated_database_url, "SELECT ops_prune_audit_events(now())")
        assert _run(app, "SELECT ops_prune_audit_events(now() - interval '2 years', 2)") == [(2,)]
        assert _run(app, "SELECT ops_prune_audit_events(now() - interval '2 years')") == [(1,)]

        left = {row[0] for row in _run(migrated_database_url, "SELECT event_id FROM audit_events")}
        assert left == set(young)
        assert not left & set(old)
    finally:
        _drop_role(pg_server_url, role)


def test_maintenance_runs_as_the_app_role(migrated_database_url: str, pg_server_url: str) -> None:
    role = f"neulbom_test_app_{secrets.token_hex(4)}"
    env = manage_env(APP_ENV="development", DATABASE_URL=migrated_database_url)
    assert run_manage("db-roles", "--app-login", role, env=env).returncode == 0
    try:
        _insert_event(migrated_database_url, "old", "3 years")
        young = _insert_event(migrated_database_url, "young", "1 day")

        report = run_maintenance(as_role(migrated_database_url, role))

        assert report["status"] == "succeeded"
        assert report["pruned"]["audit_events"] == 1
        # The app's role owns no table: VACUUM is left to autovacuum, not attempted and skipped.
        assert report["vacuumed"] == {}
        kept = "SELECT event_id FROM audit_events WHERE resource_type <> 'db_maintenance'"
        assert _run(migrated_database_url, kept) == [(young,)]
    finally:
        _drop_role(pg_server_url, role)


# -- the app's ordinary work as that role -------------------------------------------------------


def test_the_served_app_works_as_the_app_role(
    app_url: str, database_url: str, start_app_server: Callable[..., ServedApp]
) -> None:
    with cursor(database_url) as cur:
        owner = make_guardian(cur, with_password=True)
    app = start_app_server(DATABASE_URL=app_url)

    assert app.get("health/ready").status_code == 200
    login = app.request("POST", "api/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    created = app.request(
        "POST",
        "api/patients",
        headers=headers,
        json={
            "name": "권한시험",
            "birth_date": "1940-03-01",
            "gender": "female",
            "care_address": "서울시 마포구",
            "region_code": "SEOUL_MAPO",
        },
    )
    assert created.status_code == 201, created.text
    patient_id = created.json()["patient_id"]
    added = app.request(
        "POST",
        f"api/patients/{patient_id}/medications",
        headers=headers,
        json={"name": "아리셉트", "dosage": "5mg"},
    )
    assert added.status_code == 201, added.text
    read = app.get(f"api/patients/{patient_id}/medications", headers=headers)
    assert read.status_code == 200, read.text

    [(events,)] = _run(
        database_url, "SELECT count(*) FROM audit_events WHERE patient_id = %s", (patient_id,)
    )
    assert events >= 3  # type: ignore[operator]


# -- the command -------------------------------------------------------------------------------


def test_db_roles_sets_a_password_from_stdin_and_refuses_bad_names(
    database_url: str, pg_server_url: str
) -> None:
    role = f"neulbom_test_app_{secrets.token_hex(4)}"
    env = manage_env(APP_ENV="development", DATABASE_URL=database_url)
    try:
        first = run_manage(
            "db-roles", "--app-login", role, "--password-stdin", env=env, stdin="x" * 20 + "\n"
        )
        assert first.returncode == 0, first.stderr
        assert "password set" in first.stdout
        [(stored,)] = _run(
            database_url, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
        )
        assert str(stored).startswith("SCRAM-SHA-256$")
        again = run_manage("db-roles", "--app-login", role, env=env)
        assert again.returncode == 0, again.stderr
        assert f"login role {role} updated" in again.stdout
        assert "password unchanged" in again.stdout
    finally:
        _drop_role(pg_server_url, role)

    for bad in ("postgres", APP_GROUP, "Robert'); DROP TABLE users;--"):
        refused = run_manage("db-roles", "--app-login", bad, env=env)
        assert refused.returncode == 1, bad
    short = run_manage(
        "db-roles", "--app-login", role, "--password-stdin", env=env, stdin="short\n"
    )
    assert short.returncode == 1
    assert "at least 16 characters" in short.stderr


# -- the backup timers as that role ------------------------------------------------------------


def test_backups_and_the_restore_drill_run_as_the_app_role(
    populated_database_url: str,
    pg_server_url: str,
    backup_container,
    azurite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The nightly backup and the drill are timers: they run as the app. The drill's scratch
    database is created (CREATEDB), migrated and restored by the app's login, which owns it."""
    role = f"neulbom_test_app_{secrets.token_hex(4)}"
    env = manage_env(APP_ENV="development", DATABASE_URL=populated_database_url)
    assert run_manage("db-roles", "--app-login", role, env=env).returncode == 0
    app = as_role(populated_database_url, role)
    for name, value in {
        "APP_ENV": "development",
        "DATABASE_URL": app,
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "BACKUP_CONTAINER": backup_container.container_name,
    }.items():
        monkeypatch.setenv(name, value)
    try:
        assert run_backup(app, backup_container).status == "succeeded"
        make_changes(psycopg2.connect(populated_database_url))
        incremental = run_backup(app, backup_container, kind="incremental")
        assert incremental.status == "succeeded"

        record = run_restore_drill(app, backup_container)

        assert record["status"] == "succeeded", record
        assert record["mismatches"] == []
    finally:
        _drop_role(pg_server_url, role)
