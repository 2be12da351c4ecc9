"""The migrations build the whole schema, tear it down cleanly, and run as operators run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from devtools.database import ALEMBIC_INI, REPO_ROOT, current_revision, downgrade, migrate

pytestmark = pytest.mark.integration

# The newest revision on disk, so adding 0002 does not mean editing these tests.
HEAD = ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()

EXPECTED_TABLES = {
    "users",
    "login_attempts",
    "guardians",
    "patients",
    "patient_conditions",
    "patient_medications",
    "patient_diets",
    "patient_personality",
    "caregiver_personality",
    "caregivers",
    "caregiver_certifications",
    "caregiver_specialties",
    "caregiver_availability",
    "matching_requests",
    "matching_results",
    "care_plans",
    "schedules",
    "care_logs",
    "meal_plans",
    "care_reports",
    "reviews",
    "audit_events",
    # 0002: operations (backup runs, restore drills, health snapshots, the change log).
    "ops_backup_runs",
    "ops_restore_drills",
    "ops_health_snapshots",
    "ops_row_changes",
    # 0003: the CSV import's source-id lookup.
    "import_source_ids",
    # 0004: AI generations, for review.
    "ai_generations",
    # 0005: rate-limit counters shared by every instance.
    "ops_rate_limits",
    # 0009: what the matching filters read, by region, and its counters.
    "caregiver_search",
    "caregiver_search_counts",
    "ops_caregiver_search_pending",
    # 0011: the record of care.
    "home_tags",
    "visits",
    "visit_evidence",
    "visit_corrections",
    "visit_tasks",
    "medication_administrations",
    "incidents",
    "idempotency_keys",
    "visit_record_acknowledgements",
    # 0012: notifications.
    "notification_outbox",
    "notifications",
    "notification_preferences",
    "push_subscriptions",
    # 0014: long-term-care benefits: profiles and the tariffs as data.
    "ltc_profiles",
    "ltc_monthly_caps",
    "ltc_visit_fees",
    "ltc_surcharges",
    "ltc_public_holidays",
    "ltc_entitlements",
    "ltc_family_caregiver_limits",
    "ltc_rounding_rules",
}

OUR_FUNCTIONS = {
    "set_updated_at",
    "jsonb_number_between",
    "audit_events_append_only",
    # 0002: change tracking for incremental backups.
    "ops_key_expression",
    "ops_track_changes",
    "ops_attach_change_tracking",
    "ops_detach_change_tracking",
    # 0006: the audit log's TRUNCATE guard and retention pruning for the app's role.
    "audit_events_no_truncate",
    "ops_prune_audit_events",
}

#: 0009: caregiver_search, maintained from its source tables.
SEARCH_FUNCTIONS = {
    "caregiver_search_refresh",
    "caregiver_search_flush",
    "caregiver_search_flush_at_commit",
    "caregiver_search_follow",
    "caregiver_search_follow_users",
    "caregiver_search_follow_caregivers",
    "caregiver_search_follow_results",
    "caregiver_search_count",
    "caregiver_slot_covers",
}
OUR_FUNCTIONS |= SEARCH_FUNCTIONS

#: The app's group role (0006): cluster-wide, so it outlives a downgrade.
APP_ROLE = "neulbomcare_app"

ALEMBIC = Path(sys.executable).with_name("alembic")


def _query_column(url: str, query: str) -> set[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def _tables(url: str) -> set[str]:
    return _query_column(
        url,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )


def _indexes(url: str) -> set[str]:
    return _query_column(url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")


def _functions(url: str) -> set[str]:
    return _query_column(
        url,
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public'",
    )


def test_upgrade_head_from_empty_creates_every_table(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None

    migrate(empty_database_url)

    assert _tables(empty_database_url) == EXPECTED_TABLES | {"alembic_version"}
    indexes = _indexes(empty_database_url)
    assert {"idx_schedule_date", "idx_patient_id"} <= indexes
    assert "matching_results_one_selected_per_request" in indexes
    assert _functions(empty_database_url) == OUR_FUNCTIONS
    assert current_revision(empty_database_url) == HEAD


def test_named_indexes_cover_the_runbook_columns(empty_database_url: str) -> None:
    migrate(empty_database_url)

    definitions = _query_column(
        empty_database_url,
        "SELECT indexname || ': ' || indexdef FROM pg_indexes "
        "WHERE indexname IN ('idx_schedule_date', 'idx_patient_id')",
    )

    assert definitions == {
        "idx_schedule_date: CREATE INDEX idx_schedule_date ON public.schedules "
        "USING btree (schedule_date)",
        "idx_patient_id: CREATE INDEX idx_patient_id ON public.care_logs USING btree (patient_id)",
    }


def test_downgrade_base_leaves_nothing_and_upgrade_works_again(empty_database_url: str) -> None:
    migrate(empty_database_url)

    downgrade(empty_database_url, "base")

    # Alembic keeps its (now empty) bookkeeping table; everything of ours is gone.
    assert _tables(empty_database_url) <= {"alembic_version"}
    assert _functions(empty_database_url) == set()
    assert current_revision(empty_database_url) is None

    migrate(empty_database_url)

    assert _tables(empty_database_url) == EXPECTED_TABLES | {"alembic_version"}
    assert current_revision(empty_database_url) == HEAD


def _alembic_cli(*args: str, database_url: str | None) -> subprocess.CompletedProcess[str]:
    """Run the alembic console script from the repo root, as the runbook tells operators to."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KEY_VAULT_URL"}}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [str(ALEMBIC), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _app_role_grants(url: str) -> set[str]:
    """Every privilege the app's group role holds in this database (tables, routines, schema,
    default privileges)."""
    return _query_column(
        url,
        f"""
        SELECT 'table ' || table_name || ' ' || privilege_type
        FROM information_schema.role_table_grants WHERE grantee = '{APP_ROLE}'
        UNION ALL
        SELECT 'routine ' || routine_name FROM information_schema.role_routine_grants
        WHERE grantee = '{APP_ROLE}'
        UNION ALL
        SELECT 'schema public' FROM pg_namespace
        WHERE nspname = 'public' AND array_to_string(nspacl, ',') LIKE '%{APP_ROLE}=U%'
        UNION ALL
        SELECT 'default ' || defaclobjtype::text FROM pg_default_acl
        WHERE array_to_string(defaclacl, ',') LIKE '%{APP_ROLE}=%'
        """,
    )


def test_app_role_is_granted_at_head_and_revoked_by_downgrade(empty_database_url: str) -> None:
    migrate(empty_database_url)

    grants = _app_role_grants(empty_database_url)
    assert {"table audit_events SELECT", "table audit_events INSERT"} <= grants
    assert not {"table audit_events UPDATE", "table audit_events DELETE"} & grants
    assert "table audit_events TRUNCATE" not in grants
    assert {"table patients UPDATE", "table ops_rate_limits DELETE"} <= grants
    assert {"schema public", "routine ops_prune_audit_events"} <= grants
    assert {"default r", "default S", "default f"} <= grants
    # 0009: the search tables are the triggers' to write, the app only reads them.
    assert "table caregiver_search SELECT" in grants
    assert not {"table caregiver_search INSERT", "table caregiver_search_counts UPDATE"} & grants

    downgrade(empty_database_url, "0005")

    assert _app_role_grants(empty_database_url) == set()
    assert _functions(empty_database_url) == OUR_FUNCTIONS - SEARCH_FUNCTIONS - {
        "audit_events_no_truncate",
        "ops_prune_audit_events",
    }

    migrate(empty_database_url)

    assert _app_role_grants(empty_database_url) == grants


def test_cli_as_operators_run_it_with_database_url(empty_database_url: str) -> None:
    upgrade = _alembic_cli("upgrade", "head", database_url=empty_database_url)
    assert upgrade.returncode == 0, upgrade.stderr
    assert current_revision(empty_database_url) == HEAD

    # Azure hands out `postgres://`; env.py must accept it too.
    libpq_style = empty_database_url.replace("postgresql://", "postgres://", 1)
    current = _alembic_cli("current", database_url=libpq_style)
    assert current.returncode == 0, current.stderr
    assert f"{HEAD} (head)" in current.stdout

    history = _alembic_cli("history", database_url=empty_database_url)
    assert history.returncode == 0, history.stderr
    assert f"-> {HEAD} (head)" in history.stdout
    assert "<base> -> 0001" in history.stdout

    for result in (upgrade, current, history):
        assert empty_database_url not in result.stdout + result.stderr


def test_cli_accepts_url_as_x_argument(empty_database_url: str) -> None:
    result = _alembic_cli("-x", f"url={empty_database_url}", "upgrade", "head", database_url=None)

    assert result.returncode == 0, result.stderr
    assert current_revision(empty_database_url) == HEAD


# A fake, checked to stay out of the output.
FAKE_PASSWORD = "s3cret-Pa55word"


@pytest.mark.parametrize(
    "broken_url",
    [
        # Unparsable: SQLAlchemy's own error would quote the whole URL, password included.
        f"postgresql://neulbom:{FAKE_PASSWORD}@127.0.0.1:notaport/neulbom",
        # Parsable but nothing listens there: the driver's error must not carry it either.
        f"postgres://neulbom:{FAKE_PASSWORD}@127.0.0.1:1/neulbom",
    ],
)
def test_cli_failure_does_not_reveal_the_password(broken_url: str) -> None:
    result = _alembic_cli("current", database_url=broken_url)

    assert result.returncode != 0
    assert FAKE_PASSWORD not in result.stdout + result.stderr


def test_api_runs_on_a_connection_passed_in_config(empty_database_url: str) -> None:
    """Callers holding a connection (restore drills, tests) hand it over instead of a URL."""
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine(empty_database_url.replace("postgresql://", "postgresql+psycopg2://"))
    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logger"] = False
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()

    assert current_revision(empty_database_url) == HEAD
