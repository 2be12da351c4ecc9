"""Schedules over HTTP: create, list a patient's, change status, and the caller's day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.dates import korea_today
from tests.factories import (
    PARTY_NAMES,
    Parties,
    cursor,
    make_care_log,
    make_guardian,
    make_patient,
    make_schedule,
)

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 2)


def audit_rows(database_url: str, patient_id: int, resource_type: str) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_id, actor_user_id, detail FROM audit_events"
            " WHERE patient_id = %s AND resource_type = %s ORDER BY event_id",
            (patient_id, resource_type),
        )
        return cur.fetchall()


def schedule_count(database_url: str, patient_id: int) -> int:
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules WHERE patient_id = %s", (patient_id,))
        return cur.fetchone()["n"]


def error_locs(response) -> set[tuple]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    return {tuple(e["loc"]) for e in body["errors"]}


# -- POST /api/patients/{id}/schedules --------------------------------------------------------


def test_owner_creates_a_schedule(app_server, parties: Parties, database_url):
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/schedules",
        json={"schedule_date": "2026-03-02"},
        headers=parties.owner.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "schedule_id": body["schedule_id"],
        "patient_id": parties.patient_id,
        "schedule_date": "2026-03-02",
        "status": "scheduled",
        "care_plan_id": None,
        "care_logs": [],
        "warnings": [],  # within the monthly cap (shared.benefits.usage_alerts)
    }
    assert audit_rows(database_url, parties.patient_id, "schedule") == [
        {
            "action": "create",
            "resource_id": str(body["schedule_id"]),
            "actor_user_id": parties.owner.user_id,
            "detail": None,
        }
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {("body", "schedule_date")}),
        ({"schedule_date": "2026/03/02"}, {("body", "schedule_date")}),
        ({"schedule_date": "20260302"}, {("body", "schedule_date")}),
        ({"schedule_date": "2026-02-30"}, {("body", "schedule_date")}),
        ({"schedule_date": "2026-03-02", "status": "draft"}, {("body", "status")}),
        ({"schedule_date": "2026-03-02", "care_plan_id": 1}, {("body", "care_plan_id")}),
        (
            {"schedule_date": 1772409600, "status": "done"},
            {("body", "schedule_date"), ("body", "status")},
        ),
    ],
)
def test_bad_schedules_name_each_field_and_write_nothing(
    app_server, parties: Parties, database_url, body, fields
):
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/schedules",
        json=body,
        headers=parties.owner.headers,
    )
    assert error_locs(response) == fields
    assert schedule_count(database_url, parties.patient_id) == 0
    assert audit_rows(database_url, parties.patient_id, "schedule") == []


def test_a_day_has_one_schedule_in_force(app_server, parties: Parties, database_url):
    url = f"api/patients/{parties.patient_id}/schedules"
    headers = parties.owner.headers
    first = app_server.request("POST", url, json={"schedule_date": "2026-03-02"}, headers=headers)
    assert first.status_code == 201
    again = app_server.request("POST", url, json={"schedule_date": "2026-03-02"}, headers=headers)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "conflict"
    # A cancelled day may sit beside it, and another day is free.
    cancelled = app_server.request(
        "POST", url, json={"schedule_date": "2026-03-02", "status": "cancelled"}, headers=headers
    )
    assert cancelled.status_code == 201
    other_day = app_server.request(
        "POST", url, json={"schedule_date": "2026-03-03"}, headers=headers
    )
    assert other_day.status_code == 201
    assert schedule_count(database_url, parties.patient_id) == 3


@pytest.mark.parametrize(
    ("who", "status"),
    list(zip(PARTY_NAMES, (401, 404, 403, 403, 201, 403), strict=True)),
)
def test_only_the_owner_creates_schedules(app_server, parties: Parties, database_url, who, status):
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/schedules",
        json={"schedule_date": "2026-03-02"},
        headers=parties.headers(who),
    )
    assert response.status_code == status, response.text
    assert schedule_count(database_url, parties.patient_id) == (1 if status == 201 else 0)


# -- GET /api/patients/{id}/schedules ---------------------------------------------------------


def test_patient_schedules_in_a_range_with_their_care_logs(
    app_server, parties: Parties, database_url
):
    with cursor(database_url) as cur:
        before = make_schedule(cur, parties.patient_id, DAY - timedelta(days=1))
        first = make_schedule(cur, parties.patient_id, DAY)
        second = make_schedule(cur, parties.patient_id, DAY + timedelta(days=2), status="completed")
        late = make_care_log(
            cur, first, task_name="저녁 복약", category="medication", scheduled_time="19:00"
        )
        early = make_care_log(
            cur,
            first,
            task_name="아침 식사",
            category="meal",
            scheduled_time="08:00",
            assignee="family",
        )
        untimed = make_care_log(cur, first, task_name="산책")
        make_care_log(cur, before, task_name="outside the range")

    response = app_server.get(
        f"api/patients/{parties.patient_id}/schedules",
        params={"from": "2026-03-02", "to": "2026-03-08"},
        headers=parties.assigned_caregiver.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    assert [s["schedule_id"] for s in body["items"]] == [first, second]
    logs = body["items"][0]["care_logs"]
    assert [log["care_log_id"] for log in logs] == [early, late, untimed]  # by time, untimed last
    assert logs[0] == {
        "care_log_id": early,
        "schedule_id": first,
        "category": "meal",
        "task_name": "아침 식사",
        "scheduled_time": "08:00",
        "assignee": "family",
        "is_completed": False,
        "completed_at": None,
        "completed_by": None,
        "note": None,
        "vitals": None,
    }
    assert body["items"][1]["care_logs"] == []
    assert body["items"][1]["status"] == "completed"
    events = audit_rows(database_url, parties.patient_id, "schedule")
    assert [(e["action"], e["resource_id"]) for e in events] == [
        ("view", str(first)),
        ("view", str(second)),
    ]
    assert events[0]["actor_user_id"] == parties.assigned_caregiver.user_id


def test_patient_schedules_default_to_the_next_seven_days_and_page(
    app_server, parties: Parties, database_url
):
    today = korea_today()
    with cursor(database_url) as cur:
        ids = [make_schedule(cur, parties.patient_id, today + timedelta(days=n)) for n in range(8)]
        yesterday = make_schedule(cur, parties.patient_id, today - timedelta(days=1))
        make_schedule(cur, parties.patient_id, today - timedelta(days=6))  # before `to` - 6
    url = f"api/patients/{parties.patient_id}/schedules"
    body = app_server.get(url, headers=parties.owner.headers).json()
    assert body["total"] == 7
    assert [s["schedule_id"] for s in body["items"]] == ids[:7]
    page = app_server.get(
        url, params={"limit": 2, "offset": 5}, headers=parties.owner.headers
    ).json()
    assert page == {"items": page["items"], "total": 7}
    assert [s["schedule_id"] for s in page["items"]] == ids[5:7]
    only_to = app_server.get(
        url, params={"to": (today + timedelta(days=1)).isoformat()}, headers=parties.owner.headers
    ).json()
    # Only `to`: the seven days ending on it.
    assert [s["schedule_id"] for s in only_to["items"]] == [yesterday, *ids[:2]]


def test_an_empty_range_is_still_an_audited_read(app_server, parties: Parties, database_url):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/schedules",
        params={"from": "2026-03-02"},
        headers=parties.admin.headers,
    )
    assert response.json() == {"items": [], "total": 0}
    events = audit_rows(database_url, parties.patient_id, "schedule")
    assert [(e["action"], e["resource_id"]) for e in events] == [("view", None)]
    assert events[0]["detail"] == {"from": "2026-03-02", "to": "2026-03-08"}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "2026-03-09", "to": "2026-03-02"}, {("query", "to")}),
        ({"from": "2026-01-01", "to": "2026-04-03"}, {("query", "to")}),  # 93 days
        ({"from": "03/02/2026"}, {("query", "from")}),
        ({"to": "2026-13-01", "limit": "0"}, {("query", "to"), ("query", "limit")}),
    ],
)
def test_bad_ranges_are_422_and_nothing_is_audited(
    app_server, parties: Parties, database_url, params, fields
):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/schedules",
        params=params,
        headers=parties.owner.headers,
    )
    assert error_locs(response) == fields
    assert audit_rows(database_url, parties.patient_id, "schedule") == []


def test_a_92_day_range_is_allowed(app_server, parties: Parties):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/schedules",
        params={"from": "2026-01-01", "to": "2026-04-02"},  # 92 days, both ends included
        headers=parties.owner.headers,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("who", "status"),
    list(zip(PARTY_NAMES, (401, 404, 404, 200, 200, 200), strict=True)),
)
def test_who_reads_a_patients_schedules(app_server, parties: Parties, database_url, who, status):
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, DAY)
    response = app_server.get(
        f"api/patients/{parties.patient_id}/schedules",
        params={"from": "2026-03-01", "to": "2026-03-31"},
        headers=parties.headers(who),
    )
    assert response.status_code == status, response.text
    if status == 200:
        assert [s["schedule_id"] for s in response.json()["items"]] == [schedule_id]
    else:
        assert audit_rows(database_url, parties.patient_id, "schedule") == []


def test_offered_caregiver_does_not_read_schedules(app_server, parties: Parties):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/schedules", headers=parties.offered_caregiver.headers
    )
    assert response.status_code == 404


# -- PATCH /api/schedules/{id} ----------------------------------------------------------------


def test_owner_changes_a_schedules_status(app_server, parties: Parties, database_url):
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, DAY)
        log_id = make_care_log(cur, schedule_id)
    url = f"api/schedules/{schedule_id}"
    response = app_server.request(
        "PATCH", url, json={"status": "completed"}, headers=parties.owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["schedule_id"]) == ("completed", schedule_id)
    assert [log["care_log_id"] for log in body["care_logs"]] == [log_id]
    cancelled = app_server.request(
        "PATCH", url, json={"status": "cancelled"}, headers=parties.owner.headers
    )
    assert cancelled.json()["status"] == "cancelled"
    events = audit_rows(database_url, parties.patient_id, "schedule")
    assert [(e["action"], e["detail"]) for e in events] == [
        ("update", {"status": "completed"}),
        ("update", {"status": "cancelled"}),
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {("body", "status")}),
        ({"status": "draft"}, {("body", "status")}),
        ({"status": "done"}, {("body", "status")}),
        ({"status": "completed", "schedule_date": "2026-03-03"}, {("body", "schedule_date")}),
    ],
)
def test_bad_status_changes_are_422_and_change_nothing(
    app_server, parties: Parties, database_url, body, fields
):
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, DAY)
    response = app_server.request(
        "PATCH", f"api/schedules/{schedule_id}", json=body, headers=parties.owner.headers
    )
    assert error_locs(response) == fields
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT status, schedule_date FROM schedules WHERE schedule_id = %s", (schedule_id,)
        )
        assert cur.fetchone() == {"status": "scheduled", "schedule_date": DAY}
    assert audit_rows(database_url, parties.patient_id, "schedule") == []


def test_drafts_and_taken_days_are_conflicts(app_server, parties: Parties, database_url):
    with cursor(database_url) as cur:
        draft = make_schedule(cur, parties.patient_id, DAY, status="draft")
        make_schedule(cur, parties.patient_id, DAY + timedelta(days=1))
        cancelled = make_schedule(
            cur, parties.patient_id, DAY + timedelta(days=1), status="cancelled"
        )
    headers = parties.owner.headers
    on_draft = app_server.request(
        "PATCH", f"api/schedules/{draft}", json={"status": "scheduled"}, headers=headers
    )
    assert on_draft.status_code == 409
    revived = app_server.request(
        "PATCH", f"api/schedules/{cancelled}", json={"status": "scheduled"}, headers=headers
    )
    assert revived.status_code == 409
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT status FROM schedules WHERE schedule_id = ANY(%s) ORDER BY schedule_id",
            ([draft, cancelled],),
        )
        assert [r["status"] for r in cur.fetchall()] == ["draft", "cancelled"]


@pytest.mark.parametrize(
    ("who", "status"),
    list(zip(PARTY_NAMES, (401, 404, 403, 403, 200, 403), strict=True)),
)
def test_only_the_owner_changes_a_schedules_status(
    app_server, parties: Parties, database_url, who, status
):
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, DAY)
    response = app_server.request(
        "PATCH",
        f"api/schedules/{schedule_id}",
        json={"status": "cancelled"},
        headers=parties.headers(who),
    )
    assert response.status_code == status, response.text
    with cursor(database_url) as cur:
        cur.execute("SELECT status FROM schedules WHERE schedule_id = %s", (schedule_id,))
        expected = "cancelled" if status == 200 else "scheduled"
        assert cur.fetchone()["status"] == expected


def test_a_missing_schedule_is_404(app_server, parties: Parties):
    response = app_server.request(
        "PATCH",
        "api/schedules/999999999",
        json={"status": "cancelled"},
        headers=parties.owner.headers,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# -- GET /api/schedules/{date} ----------------------------------------------------------------


def test_a_guardians_day_covers_every_own_patient(app_server, parties: Parties, database_url):
    with cursor(database_url) as cur:
        second_patient = make_patient(cur, parties.owner, name="이환자")
        first = make_schedule(cur, parties.patient_id, DAY)
        log_id = make_care_log(cur, first, category="medication", task_name="아침 약")
        second = make_schedule(cur, second_patient, DAY)
        make_schedule(cur, parties.patient_id, DAY + timedelta(days=1))
        stranger = make_guardian(cur)
        make_schedule(cur, make_patient(cur, stranger), DAY)

    response = app_server.get("api/schedules/2026-03-02", headers=parties.owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["date"] == "2026-03-02"
    assert [(s["patient_id"], s["schedule_id"]) for s in body["items"]] == [
        (parties.patient_id, first),
        (second_patient, second),
    ]
    assert [log["care_log_id"] for log in body["items"][0]["care_logs"]] == [log_id]
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert {
        (e["action"], e["resource_id"])
        for e in audit_rows(database_url, parties.patient_id, "schedule")
    } == {("view", str(first))}
    assert [e["resource_id"] for e in audit_rows(database_url, second_patient, "schedule")] == [
        str(second)
    ]


@pytest.mark.parametrize(
    ("who", "status", "sees_it"),
    [
        ("anonymous", 401, False),
        ("other_guardian", 200, False),
        ("unassigned_caregiver", 200, False),
        ("offered_caregiver", 200, False),
        ("assigned_caregiver", 200, True),
        ("owner", 200, True),
        ("admin", 403, False),
    ],
)
def test_whose_day_shows_the_schedule(
    app_server, parties: Parties, database_url, who, status, sees_it
):
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, DAY)
    response = app_server.get("api/schedules/2026-03-02", headers=parties.headers(who))
    assert response.status_code == status, response.text
    if status == 200:
        ids = [s["schedule_id"] for s in response.json()["items"]]
        assert ids == ([schedule_id] if sees_it else [])
    events = audit_rows(database_url, parties.patient_id, "schedule")
    assert len(events) == (1 if sees_it else 0)


def test_a_caregivers_day_drops_patients_once_the_matching_ends(
    app_server, parties: Parties, database_url
):
    with cursor(database_url) as cur:
        make_schedule(cur, parties.patient_id, DAY)
        cur.execute(
            "UPDATE matching_results SET status = 'completed' WHERE matching_id = %s",
            (parties.matching_id,),
        )
    response = app_server.get(
        "api/schedules/2026-03-02", headers=parties.assigned_caregiver.headers
    )
    assert response.json()["items"] == []


@pytest.mark.parametrize("bad", ["2026-3-2", "2026-02-30", "tomorrow", "20260302", "123"])
def test_a_bad_date_is_422_naming_the_path(app_server, parties: Parties, bad):
    response = app_server.get(f"api/schedules/{bad}", headers=parties.owner.headers)
    assert error_locs(response) == {("path", "date")}


@pytest.mark.parametrize(
    ("who", "method", "path"),
    [
        ("admin", "GET", "api/schedules/not-a-date"),
        ("assigned_caregiver", "POST", "api/patients/{patient_id}/schedules"),
        ("assigned_caregiver", "PATCH", "api/schedules/{schedule_id}"),
        ("admin", "POST", "api/schedules/{schedule_id}/care-logs"),
        ("admin", "PATCH", "api/care-logs/1"),
        ("assigned_caregiver", "POST", "api/patients/{patient_id}/care-reports"),
    ],
)
def test_a_role_that_may_never_call_a_care_route_gets_403_before_422(
    app_server, parties: Parties, database_url, who, method, path
):
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, DAY)
    url = path.format(patient_id=parties.patient_id, schedule_id=schedule_id)
    response = app_server.request(method, url, json={"bogus": 1}, headers=parties.headers(who))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
