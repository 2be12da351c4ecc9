"""`manage.py dev` (what `make run` runs): Azurite, a database, migrations, demo data, serve."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psycopg2
import pytest
import requests

from devtools.database import drop_database, with_database
from devtools.devstack import BLOB_PORT, port_answers
from tests.factories import cursor, make_user
from tests.fixtures.app_server import free_port
from tests.manage_cli import REPO_ROOT, manage_env

pytestmark = pytest.mark.integration


def wait_for_ready(base_url: str, process: subprocess.Popen, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "manage.py dev exited early"
        try:
            response = requests.get(f"{base_url}/health/ready", timeout=5)
            if response.status_code == 200:
                return response.json()
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    raise AssertionError("manage.py dev did not become ready")


def _newcomer_sees_the_xgboost_model(base_url: str) -> str:
    """Sign in as the demo guardian and ask for caregivers for the first demo patient."""
    from datetime import date, timedelta

    from devtools.seed_demo import DEMO_GUARDIAN_EMAIL
    from shared.config import PROFILE_DEFAULTS, AppEnv

    password = PROFILE_DEFAULTS[AppEnv.DEVELOPMENT]["SEED_DEMO_PASSWORD"]
    login = requests.post(
        f"{base_url}/api/auth/login",
        json={"email": DEMO_GUARDIAN_EMAIL, "password": password},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    patients = requests.get(f"{base_url}/api/patients", headers=headers, timeout=30).json()
    ranked = requests.post(
        f"{base_url}/api/patients/{patients['items'][0]['patient_id']}/matching-requests",
        json={
            "care_type": "caregiver",
            "days": ["mon"],
            "time_slots": [{"start": "10:00", "end": "12:00"}],
            "start_date": (date.today() + timedelta(days=7)).isoformat(),
        },
        headers=headers,
        timeout=30,
    )
    assert ranked.status_code == 201, ranked.text
    return ranked.json()["model"]["kind"]


def test_dev_brings_everything_up_with_demo_data_and_stops_cleanly(pg_server_url, tmp_path):
    azurite_was_running = port_answers("127.0.0.1", BLOB_PORT)
    name = f"neulbom_dev_{int(time.time())}"
    url = with_database(pg_server_url, name)
    port = free_port()
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "dev", "--port", str(port)],
            cwd=REPO_ROOT,
            env=manage_env(DATABASE_URL=url, SEED_CAREGIVER_COUNT="5"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        assert wait_for_ready(base_url, process)["status"] in ("healthy", "degraded")
        assert _newcomer_sees_the_xgboost_model(base_url) == "xgboost"
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT role, count(*) FROM users GROUP BY role ORDER BY role")
            assert cur.fetchall() == [("caregiver", 5), ("guardian", 1)]
        # The checks are for operators: an admin's token reads them.
        with cursor(url) as cur:
            admin = make_user(cur, "admin")
        ready = requests.get(f"{base_url}/health/ready", headers=admin.headers, timeout=30).json()
        assert ready["checks"]["database"]["status"] == "ok"
        assert ready["checks"]["blob_storage"]["status"] == "ok"
        assert ready["checks"]["matching_model"]["status"] == "ok", ready["checks"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, 143)
        output = log_path.read_text()
        for step in ("migrating to head", "seeding demo data", "matching model", "serving on"):
            assert step in output
        if not azurite_was_running:
            assert not port_answers("127.0.0.1", BLOB_PORT), "Azurite was left running"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        drop_database(pg_server_url, name)
