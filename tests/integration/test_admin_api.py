"""Operator endpoints on the served app: backups on demand and their list, the serving model."""

from __future__ import annotations

import time

import pytest

from tests.factories import PARTY_NAMES, Parties
from tests.fixtures.app_server import free_port
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

ADMIN_ONLY = dict.fromkeys(PARTY_NAMES, 403) | {"anonymous": 401, "admin": 200}
ROUTES = [
    ("GET", "api/admin/backups"),
    ("GET", "api/admin/model"),
    ("POST", "api/admin/model/reload"),
    ("GET", "api/admin/audit-events"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("who", PARTY_NAMES)
def test_only_admins_reach_the_operator_endpoints(app_server, parties: Parties, method, path, who):
    response = app_server.request(method, path, headers=parties.headers(who))
    assert response.status_code == ADMIN_ONLY[who], response.text


@pytest.mark.parametrize("who", [w for w in PARTY_NAMES if w != "admin"])
def test_only_admins_start_backups(app_server, parties: Parties, who):
    response = app_server.request("POST", "api/admin/backups", headers=parties.headers(who))
    assert response.status_code == (401 if who == "anonymous" else 403)


def test_a_backup_started_on_demand_is_listed_with_its_outcome(app_server, parties: Parties):
    started = app_server.request("POST", "api/admin/backups", headers=parties.admin.headers)
    assert started.status_code == 202, started.text
    backup_id = started.json()["backup_id"]
    assert started.json()["kind"] == "full"
    assert started.json()["status"] == "queued"  # a queue-triggered worker runs it

    deadline = time.monotonic() + 60
    while True:
        listed = app_server.get("api/admin/backups", headers=parties.admin.headers).json()
        run = next(item for item in listed["items"] if item["backup_id"] == backup_id)
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run["status"] == "succeeded", run
    assert run["bytes"] > 0
    assert run["rows"] > 0
    assert run["duration_s"] >= 0
    assert run["requested_by"] == f"admin:{parties.admin.user_id}"
    assert run["attempts"] == 1
    assert run["queued_at"] is not None
    assert listed["overview"]["latest_full_id"] is not None


def test_the_model_report_says_what_serves(app_server, parties: Parties):
    status = app_server.get("api/admin/model", headers=parties.admin.headers).json()
    assert status["kind"] in ("xgboost", "rules")
    assert status["version"]
    reloaded = app_server.request("POST", "api/admin/model/reload", headers=parties.admin.headers)
    assert reloaded.status_code == 200
    assert reloaded.json()["kind"] == status["kind"]


def test_a_backup_that_cannot_be_queued_answers_503_without_its_cause(
    start_app_server, parties: Parties, azurite
):
    # The app's storage account has no queue service where it says (a closed port): the job
    # is recorded, its message cannot be sent.
    closed = f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    no_queue = azurite.connection_string.replace(azurite.queue_endpoint, closed)
    app = start_app_server(AZURE_STORAGE_CONNECTION_STRING=no_queue)

    response = app.request("POST", "api/admin/backups", headers=parties.admin.headers)

    body = assert_problem(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "60"
    assert body["request_id"] in body["detail"]
    for leak in ("devstoreaccount1", "127.0.0.1", closed, "Error", "Exception"):
        assert leak not in body["detail"], body["detail"]
    # The operators' log keeps the cause, under the same request id.
    logged = [line for line in app.logs().splitlines() if "backup_on_demand_not_started" in line]
    assert logged
    assert body["request_id"] in logged[-1]
    assert "ServiceRequestError" in logged[-1]
    # The job is settled as failed, so it blocks nothing: the next request is accepted.
    listed = app.get("api/admin/backups", headers=parties.admin.headers).json()
    run = next(item for item in listed["items"] if item["backup_id"] in logged[-1])
    assert run["status"] == "failed"
    assert "not queued" in run["error"]
