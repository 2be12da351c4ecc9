"""Care logs over HTTP: adding tasks, and who may complete which (server-set completion)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
from pydantic import BaseModel

from models.care import CareLogUpdate, VitalsIn
from models.vocabularies import Role
from shared.auth.principal import Actor, Principal
from shared.care import service
from shared.errors import ValidationFailedError
from shared.unit_of_work import UnitOfWork
from tests.factories import PARTY_NAMES, Parties, cursor, make_care_log, make_schedule

pytestmark = pytest.mark.integration

DAY = date(2026, 5, 4)


@pytest.fixture
def schedule_id(parties: Parties, database_url) -> int:
    with cursor(database_url) as cur:
        return make_schedule(cur, parties.patient_id, DAY)


def care_log_row(database_url: str, care_log_id: int) -> dict:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT is_completed, completed_at, completed_by, note, vitals FROM care_logs"
            " WHERE care_log_id = %s",
            (care_log_id,),
        )
        return cur.fetchone()


def logs_of(database_url: str, schedule_id: int) -> int:
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM care_logs WHERE schedule_id = %s", (schedule_id,))
        return cur.fetchone()["n"]


def audit_rows(database_url: str, patient_id: int) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_id, actor_user_id, detail FROM audit_events"
            " WHERE patient_id = %s AND resource_type = 'care_log' ORDER BY event_id",
            (patient_id,),
        )
        return cur.fetchall()


def error_locs(response) -> set[tuple]:
    assert response.status_code == 422, response.text
    return {tuple(e["loc"]) for e in response.json()["errors"]}


def patch(app_server, care_log_id: int, body: dict, headers: dict):
    return app_server.request("PATCH", f"api/care-logs/{care_log_id}", json=body, headers=headers)


# -- POST /api/schedules/{id}/care-logs --------------------------------------------------------


def test_the_active_caregiver_adds_a_task(app_server, parties: Parties, schedule_id, database_url):
    response = app_server.request(
        "POST",
        f"api/schedules/{schedule_id}/care-logs",
        json={
            "category": "medication",
            "task_name": "  아침 혈압약  ",
            "scheduled_time": "08:30",
            "note": "식후 30분",
        },
        headers=parties.assigned_caregiver.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "care_log_id": body["care_log_id"],
        "schedule_id": schedule_id,
        "category": "medication",
        "task_name": "아침 혈압약",
        "scheduled_time": "08:30",
        "assignee": "caregiver",
        "is_completed": False,
        "completed_at": None,
        "completed_by": None,
        "note": "식후 30분",
        "vitals": None,
    }
    assert audit_rows(database_url, parties.patient_id) == [
        {
            "action": "create",
            "resource_id": str(body["care_log_id"]),
            "actor_user_id": parties.assigned_caregiver.user_id,
            "detail": None,
        }
    ]


def test_the_owner_adds_a_family_task(app_server, parties: Parties, schedule_id):
    response = app_server.request(
        "POST",
        f"api/schedules/{schedule_id}/care-logs",
        json={"category": "cognitive", "task_name": "손주와 영상통화", "assignee": "family"},
        headers=parties.owner.headers,
    )
    assert response.status_code == 201, response.text
    assert (response.json()["assignee"], response.json()["scheduled_time"]) == ("family", None)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {("body", "category"), ("body", "task_name")}),
        ({"category": "nap", "task_name": "x"}, {("body", "category")}),
        ({"category": "meal", "task_name": "   "}, {("body", "task_name")}),
        ({"category": "meal", "task_name": "x" * 201}, {("body", "task_name")}),
        ({"category": "meal", "task_name": "x", "scheduled_time": "25:00"},
         {("body", "scheduled_time")}),
        ({"category": "meal", "task_name": "x", "scheduled_time": "8:30"},
         {("body", "scheduled_time")}),
        ({"category": "meal", "task_name": "x", "note": "n" * 2001}, {("body", "note")}),
        ({"category": "meal", "task_name": "x", "assignee": "nurse"}, {("body", "assignee")}),
        ({"category": "meal", "task_name": "x", "is_completed": True}, {("body", "is_completed")}),
    ],
)  # fmt: skip
def test_bad_tasks_name_each_field_and_write_nothing(
    app_server, parties: Parties, schedule_id, database_url, body, fields
):
    response = app_server.request(
        "POST",
        f"api/schedules/{schedule_id}/care-logs",
        json=body,
        headers=parties.owner.headers,
    )
    assert error_locs(response) == fields
    assert logs_of(database_url, schedule_id) == 0
    assert audit_rows(database_url, parties.patient_id) == []


@pytest.mark.parametrize(
    ("who", "status"),
    list(zip(PARTY_NAMES, (401, 404, 404, 201, 201, 403), strict=True)),
)
def test_who_adds_tasks(app_server, parties: Parties, schedule_id, database_url, who, status):
    response = app_server.request(
        "POST",
        f"api/schedules/{schedule_id}/care-logs",
        json={"category": "hygiene", "task_name": "목욕"},
        headers=parties.headers(who),
    )
    assert response.status_code == status, response.text
    assert logs_of(database_url, schedule_id) == (1 if status == 201 else 0)


def test_no_tasks_on_a_cancelled_or_missing_schedule(app_server, parties: Parties, database_url):
    with cursor(database_url) as cur:
        cancelled = make_schedule(cur, parties.patient_id, DAY, status="cancelled")
    body = {"category": "meal", "task_name": "점심"}
    headers = parties.assigned_caregiver.headers
    on_cancelled = app_server.request(
        "POST", f"api/schedules/{cancelled}/care-logs", json=body, headers=headers
    )
    assert on_cancelled.status_code == 409
    missing = app_server.request(
        "POST", "api/schedules/999999999/care-logs", json=body, headers=headers
    )
    assert missing.status_code == 404
    assert logs_of(database_url, cancelled) == 0


# -- PATCH /api/care-logs/{id} ------------------------------------------------------------------


def test_the_caregiver_completes_and_the_server_stamps_it(
    app_server, parties: Parties, schedule_id, database_url
):
    with cursor(database_url) as cur:
        log_id = make_care_log(cur, schedule_id, category="vital_check", task_name="혈압 측정")
    vitals = {"systolic": 128, "diastolic": 82, "pulse": 72, "temperature_c": 36.6}
    before = datetime.now(UTC)
    response = patch(
        app_server,
        log_id,
        {"is_completed": True, "note": "안정적", "vitals": vitals},
        parties.assigned_caregiver.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    completed_at = datetime.fromisoformat(body["completed_at"])
    assert before - timedelta(seconds=5) <= completed_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert body["is_completed"] is True
    assert body["completed_by"] == parties.assigned_caregiver.user_id
    assert body["note"] == "안정적"
    assert body["vitals"] == {
        "systolic": 128,
        "diastolic": 82,
        "pulse": 72,
        "temperature_c": 36.6,
        "blood_sugar": None,
    }
    row = care_log_row(database_url, log_id)
    assert row["vitals"] == vitals  # only the readings given are stored
    assert row["completed_by"] == parties.assigned_caregiver.user_id
    assert audit_rows(database_url, parties.patient_id) == [
        {
            "action": "update",
            "resource_id": str(log_id),
            "actor_user_id": parties.assigned_caregiver.user_id,
            "detail": {"is_completed": True},
        }
    ]


def test_a_second_completion_keeps_the_first_stamp_and_uncompleting_clears_it(
    app_server, parties: Parties, schedule_id, database_url
):
    with cursor(database_url) as cur:
        log_id = make_care_log(
            cur, schedule_id, assignee="family", note="처음 메모", vitals={"pulse": 70}
        )
    first = patch(app_server, log_id, {"is_completed": True}, parties.owner.headers).json()
    assert first["completed_by"] == parties.owner.user_id
    assert (first["note"], first["vitals"]["pulse"]) == ("처음 메모", 70)  # untouched when absent
    second = patch(
        app_server,
        log_id,
        {"is_completed": True, "note": "추가 메모"},
        parties.assigned_caregiver.headers,
    ).json()
    assert second["completed_at"] == first["completed_at"]
    assert second["completed_by"] == parties.owner.user_id
    assert second["note"] == "추가 메모"
    cleared = patch(
        app_server,
        log_id,
        {"is_completed": False, "note": None, "vitals": None},
        parties.owner.headers,
    ).json()
    assert (cleared["is_completed"], cleared["completed_at"], cleared["completed_by"]) == (
        False,
        None,
        None,
    )
    assert (cleared["note"], cleared["vitals"]) == (None, None)
    assert care_log_row(database_url, log_id) == {
        "is_completed": False,
        "completed_at": None,
        "completed_by": None,
        "note": None,
        "vitals": None,
    }


#: who -> (status completing a `caregiver` task, status completing a `family` task)
COMPLETION_MATRIX = {
    "anonymous": (401, 401),
    "other_guardian": (404, 404),
    "unassigned_caregiver": (404, 404),
    "offered_caregiver": (404, 404),
    "assigned_caregiver": (200, 200),
    "owner": (403, 200),
    "admin": (403, 403),
}


def test_the_completion_matrix_covers_every_party():
    assert set(PARTY_NAMES) <= set(COMPLETION_MATRIX)


@pytest.mark.parametrize("who", list(COMPLETION_MATRIX))
def test_who_completes_which_task(app_server, parties: Parties, schedule_id, database_url, who):
    with cursor(database_url) as cur:
        caregiver_log = make_care_log(cur, schedule_id, assignee="caregiver")
        family_log = make_care_log(cur, schedule_id, assignee="family")
    statuses = COMPLETION_MATRIX[who]
    for log_id, status in zip((caregiver_log, family_log), statuses, strict=True):
        response = patch(app_server, log_id, {"is_completed": True}, parties.headers(who))
        assert response.status_code == status, (log_id, response.text)
        row = care_log_row(database_url, log_id)
        assert row["is_completed"] is (status == 200)
        completed_by = getattr(parties, who).user_id if status == 200 else None
        assert row["completed_by"] == completed_by


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"is_completed": True, "vitals": {"systolic": 300}}, {("body", "vitals", "systolic")}),
        ({"is_completed": True, "vitals": {"systolic": 49}}, {("body", "vitals", "systolic")}),
        ({"is_completed": True, "vitals": {"diastolic": 161, "pulse": 19}},
         {("body", "vitals", "diastolic"), ("body", "vitals", "pulse")}),
        ({"is_completed": True, "vitals": {"temperature_c": 45.1}},
         {("body", "vitals", "temperature_c")}),
        ({"is_completed": True, "vitals": {"blood_sugar": 601}},
         {("body", "vitals", "blood_sugar")}),
        ({"is_completed": True, "vitals": {"systolic": 80, "diastolic": 90}},
         {("body", "vitals", "diastolic")}),
        ({"is_completed": True, "vitals": {"spo2": 97}}, {("body", "vitals", "spo2")}),
        ({"is_completed": True, "vitals": {"pulse": "fast"}}, {("body", "vitals", "pulse")}),
        ({"is_completed": True, "completed_at": "2026-05-04T00:00:00Z"},
         {("body", "completed_at")}),
        ({"is_completed": True, "completed_by": 1}, {("body", "completed_by")}),
        ({"note": "x"}, {("body", "is_completed")}),
        ({"is_completed": "maybe", "note": "n" * 2001},
         {("body", "is_completed"), ("body", "note")}),
    ],
)  # fmt: skip
def test_bad_updates_are_422_and_write_nothing(
    app_server, parties: Parties, schedule_id, database_url, body, fields
):
    with cursor(database_url) as cur:
        log_id = make_care_log(cur, schedule_id, note="그대로")
    response = patch(app_server, log_id, body, parties.assigned_caregiver.headers)
    assert error_locs(response) == fields
    assert care_log_row(database_url, log_id) == {
        "is_completed": False,
        "completed_at": None,
        "completed_by": None,
        "note": "그대로",
        "vitals": None,
    }
    assert audit_rows(database_url, parties.patient_id) == []


def test_boundary_vitals_are_accepted(app_server, parties: Parties, schedule_id, database_url):
    with cursor(database_url) as cur:
        log_id = make_care_log(cur, schedule_id, category="vital_check")
    low = {"systolic": 50, "diastolic": 30, "pulse": 20, "temperature_c": 30, "blood_sugar": 20}
    high = {
        "systolic": 260,
        "diastolic": 159,
        "pulse": 250,
        "temperature_c": 45,
        "blood_sugar": 600,
    }
    for vitals in (low, high):
        response = patch(
            app_server,
            log_id,
            {"is_completed": True, "vitals": vitals},
            parties.assigned_caregiver.headers,
        )
        assert response.status_code == 200, response.text
        assert care_log_row(database_url, log_id)["vitals"] == vitals


def test_a_cancelled_days_logs_do_not_change(app_server, parties: Parties, database_url):
    with cursor(database_url) as cur:
        cancelled = make_schedule(cur, parties.patient_id, DAY, status="cancelled")
        log_id = make_care_log(cur, cancelled)
    response = patch(app_server, log_id, {"is_completed": True}, parties.assigned_caregiver.headers)
    assert response.status_code == 409
    assert care_log_row(database_url, log_id)["is_completed"] is False


def test_a_missing_care_log_is_404(app_server, parties: Parties):
    response = patch(app_server, 999999999, {"is_completed": True}, parties.owner.headers)
    assert response.status_code == 404


class _UncheckedVitals(BaseModel):
    """Readings that skipped the API's validation, to reach the database's CHECK."""

    systolic: int

    def readings(self) -> dict:
        return self.model_dump()


def test_the_database_check_is_the_last_line_of_defence(
    app_env, parties: Parties, schedule_id, database_url
):
    with cursor(database_url) as cur:
        log_id = make_care_log(cur, schedule_id)
    vitals = cast(VitalsIn, _UncheckedVitals(systolic=999))  # stands in for VitalsIn
    fields = {"is_completed", "vitals"}
    body = CareLogUpdate.model_construct(fields, is_completed=True, vitals=vitals)
    caregiver = parties.assigned_caregiver
    actor = Actor(Principal(caregiver.user_id, Role.CAREGIVER, caregiver.email, "x"), "req", None)
    with pytest.raises(ValidationFailedError) as raised, UnitOfWork(actor) as uow:
        service.update_care_log(uow, log_id, body)
    assert [e.loc for e in raised.value.errors] == [("body", "vitals")]
    assert care_log_row(database_url, log_id)["is_completed"] is False
    assert audit_rows(database_url, parties.patient_id) == []
