"""Care plans over HTTP: AI plans (the fake Azure OpenAI behind a served app), the template
fallback end to end, privacy of the prompt, drafts stored as schedules and care logs,
confirmation under the one-schedule-a-day rule, the list, and who may do what."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from models.dates import korea_today
from shared.ai.care_plans import DISCLAIMER
from tests.factories import (
    PARTY_NAMES,
    Parties,
    cursor,
    make_guardian,
    make_patient,
    make_schedule,
    set_patient_profile,
)
from tests.fixtures.azure_openai import care_plan_answer

pytestmark = pytest.mark.integration

START = korea_today() + timedelta(days=7)


def plan_url(patient_id: int) -> str:
    return f"api/patients/{patient_id}/care-plans"


def db_rows(database_url: str, query: str, *params) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def generations(database_url: str, patient_id: int) -> list[dict]:
    return db_rows(
        database_url,
        "SELECT kind, resource_type, resource_ids, prompt_version, deployment, input_hash,"
        " validation, failure_reasons, source, attempts FROM ai_generations"
        " WHERE patient_id = %s ORDER BY generation_id",
        patient_id,
    )


def plan_count(database_url: str, patient_id: int) -> int:
    return db_rows(
        database_url, "SELECT count(*) AS n FROM care_plans WHERE patient_id = %s", patient_id
    )[0]["n"]


def create(app, parties: Parties, days: int = 2, start: date = START, who: str = "owner"):
    return app.request(
        "POST",
        plan_url(parties.patient_id),
        json={"start_date": start.isoformat(), "days": days},
        headers=parties.headers(who),
    )


# -- AI and the template, end to end ---------------------------------------------------------


def test_an_ai_plan_is_stored_as_draft_schedules_and_care_logs(
    ai_app_server, fake_openai, parties: Parties, database_url
):
    fake_openai.reply(content=care_plan_answer(START, 2))

    response = create(ai_app_server, parties)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["source"], body["status"], body["disclaimer"]) == ("ai", "draft", DISCLAIMER)
    assert "119" in body["disclaimer"]
    assert "의료적 판단을 대체하지 않습니다" in body["disclaimer"]
    assert [d["date"] for d in body["days"]] == [
        START.isoformat(),
        (START + timedelta(1)).isoformat(),
    ]
    expected = care_plan_answer(START, 2)["days"][0]["activities"]
    first_day = body["days"][0]
    assert [
        (a["time"], a["title"], a["category"], a["assignee"]) for a in first_day["activities"]
    ] == [(a["time"], a["title"], a["category"], a["assignee"]) for a in expected]
    schedules = db_rows(
        database_url,
        "SELECT schedule_id, schedule_date, status, care_plan_id FROM schedules"
        " WHERE patient_id = %s ORDER BY schedule_date",
        parties.patient_id,
    )
    assert [(s["schedule_id"], s["status"], s["care_plan_id"]) for s in schedules] == [
        (d["schedule_id"], "draft", body["care_plan_id"]) for d in body["days"]
    ]
    logs = db_rows(
        database_url,
        "SELECT care_log_id FROM care_logs WHERE schedule_id = %s ORDER BY care_log_id",
        first_day["schedule_id"],
    )
    assert sorted(log["care_log_id"] for log in logs) == sorted(
        a["care_log_id"] for a in first_day["activities"]
    )
    (generation,) = generations(database_url, parties.patient_id)
    assert generation["kind"] == "care_plan"
    assert (generation["source"], generation["validation"], generation["attempts"]) == (
        "ai",
        "passed",
        1,
    )
    assert generation["resource_ids"] == [body["care_plan_id"]]
    assert generation["deployment"] == "gpt-4o-mini-test"
    assert generation["prompt_version"] == "care-plan/2026-11-v1"
    assert len(generation["input_hash"]) == 64
    events = db_rows(
        database_url,
        "SELECT action, resource_type, resource_id, detail FROM audit_events"
        " WHERE patient_id = %s ORDER BY event_id",
        parties.patient_id,
    )
    assert events[0] == {
        "action": "create",
        "resource_type": "care_plan",
        "resource_id": str(body["care_plan_id"]),
        "detail": {"days": 2, "source": "ai"},
    }
    assert [(e["action"], e["resource_type"]) for e in events[1:]] == [("create", "schedule")] * 2


def test_when_ai_fails_the_template_plan_is_served_in_time(
    ai_app_server, fake_openai, parties: Parties, database_url
):
    fake_openai.always(content="slow", delay=5)

    started = time.monotonic()
    response = create(ai_app_server, parties, days=3)
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.text
    assert elapsed < 2.0 + 1.5, elapsed  # two 1 s attempts, then the template
    body = response.json()
    assert body["source"] == "template"
    assert len(body["days"]) == 3
    assert all(len(day["activities"]) >= 3 for day in body["days"])
    (generation,) = generations(database_url, parties.patient_id)
    assert (generation["source"], generation["validation"], generation["attempts"]) == (
        "template",
        "failed",
        2,
    )
    assert [r.split(":")[0] for r in generation["failure_reasons"]] == ["timeout", "timeout"]


def test_the_prompt_carries_no_personal_identifiers(ai_app_server, fake_openai, database_url):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        cur.execute(
            "UPDATE users SET phone = '010-9876-5432' WHERE user_id = %s", (guardian.user_id,)
        )
        patient_id = make_patient(cur, guardian, name="홍길동", birth_date=date(1941, 3, 15))
        cur.execute(
            "UPDATE patients SET care_address = '서울특별시 종로구 세종대로 175 101동 1203호',"
            " region_code = 'SEOUL_JONGNO', mobility_status = 'wheelchair' WHERE patient_id = %s",
            (patient_id,),
        )
        set_patient_profile(
            cur,
            patient_id,
            conditions=("dementia", "hypertension"),
            medications=("노바스크정",),
            diet_type="low_sodium",
            allergens=("soy",),
        )
    fake_openai.reply(content=care_plan_answer(START, 1))

    response = ai_app_server.request(
        "POST",
        plan_url(patient_id),
        json={"start_date": START.isoformat(), "days": 1},
        headers=guardian.headers,
    )

    assert response.status_code == 201, response.text
    (request,) = fake_openai.requests
    prompt = request.prompt_text
    for secret in (
        "홍길동",
        "길동",
        "세종대로",
        "종로",
        "SEOUL",
        "010-9876-5432",
        "9876",
        "1941",
        "03-15",
        "노바스크",
        guardian.email,
    ):
        assert secret not in prompt, secret
    # What it does carry: the age band and the care needs.
    for fact in ("80대", "3등급", "휠체어", "치매", "고혈압", "저염식", "대두"):
        assert fact in prompt, fact


# -- confirm ---------------------------------------------------------------------------------


def test_confirming_makes_the_days_scheduled(app_server, parties: Parties, database_url):
    plan = create(app_server, parties, days=2).json()
    assert plan["source"] == "template"  # the shared served app has no AI

    response = app_server.request(
        "POST", f"api/care-plans/{plan['care_plan_id']}/confirm", headers=parties.owner.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    assert [d["status"] for d in body["days"]] == ["scheduled", "scheduled"]
    assert [d["schedule_id"] for d in body["days"]] == [d["schedule_id"] for d in plan["days"]]
    again = app_server.request(
        "POST", f"api/care-plans/{plan['care_plan_id']}/confirm", headers=parties.owner.headers
    )
    assert again.status_code == 409
    assert "already confirmed" in again.json()["detail"]
    # The confirmed days now count: the day view shows them to the active caregiver.
    day = app_server.get(
        f"api/schedules/{START.isoformat()}", headers=parties.assigned_caregiver.headers
    ).json()
    assert [s["schedule_id"] for s in day["items"]] == [plan["days"][0]["schedule_id"]]


def test_a_day_already_scheduled_blocks_confirmation_and_nothing_changes(
    app_server, parties: Parties, database_url
):
    second_day = START + timedelta(days=1)
    with cursor(database_url) as cur:
        existing = make_schedule(cur, parties.patient_id, second_day)
    plan = create(app_server, parties, days=3).json()

    response = app_server.request(
        "POST", f"api/care-plans/{plan['care_plan_id']}/confirm", headers=parties.owner.headers
    )

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert f"{second_day.isoformat()} (schedule {existing})" in response.json()["detail"]
    statuses = db_rows(
        database_url,
        "SELECT status FROM schedules WHERE care_plan_id = %s",
        plan["care_plan_id"],
    )
    assert [s["status"] for s in statuses] == ["draft"] * 3
    listed = app_server.get(plan_url(parties.patient_id), headers=parties.owner.headers).json()
    assert listed["items"][0]["status"] == "draft"


def test_two_draft_plans_may_cover_the_same_days_but_only_one_is_confirmed(
    app_server, parties: Parties
):
    first = create(app_server, parties, days=1).json()
    second = create(app_server, parties, days=1).json()
    headers = parties.owner.headers
    ok = app_server.request(
        "POST", f"api/care-plans/{first['care_plan_id']}/confirm", headers=headers
    )
    clash = app_server.request(
        "POST", f"api/care-plans/{second['care_plan_id']}/confirm", headers=headers
    )
    assert (ok.status_code, clash.status_code) == (200, 409)


def test_drafts_change_only_through_their_plan(app_server, parties: Parties):
    plan = create(app_server, parties, days=1).json()
    response = app_server.request(
        "PATCH",
        f"api/schedules/{plan['days'][0]['schedule_id']}",
        json={"status": "scheduled"},
        headers=parties.owner.headers,
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("who", "status"), list(zip(PARTY_NAMES, (401, 404, 403, 403, 200, 403), strict=True))
)
def test_only_the_owner_confirms(app_server, parties: Parties, database_url, who, status):
    plan = create(app_server, parties, days=1).json()
    response = app_server.request(
        "POST", f"api/care-plans/{plan['care_plan_id']}/confirm", headers=parties.headers(who)
    )
    assert response.status_code == status, response.text
    (row,) = db_rows(
        database_url, "SELECT status FROM care_plans WHERE care_plan_id = %s", plan["care_plan_id"]
    )
    assert row["status"] == ("confirmed" if status == 200 else "draft")


def test_confirming_an_unknown_plan_is_404(app_server, parties: Parties):
    response = app_server.request(
        "POST", "api/care-plans/999999999/confirm", headers=parties.owner.headers
    )
    assert response.status_code == 404


# -- create: validation and who may ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {("body", "start_date"), ("body", "days")}),
        ({"start_date": START.isoformat(), "days": 0}, {("body", "days")}),
        ({"start_date": START.isoformat(), "days": 8}, {("body", "days")}),
        ({"start_date": "2026/12/01", "days": 1}, {("body", "start_date")}),
        (
            {"start_date": (korea_today() - timedelta(1)).isoformat(), "days": 1},
            {("body", "start_date")},
        ),
        ({"start_date": START.isoformat(), "days": 1, "source": "ai"}, {("body", "source")}),
    ],
)
def test_bad_requests_are_422_and_write_nothing(
    app_server, parties: Parties, database_url, body, fields
):
    response = app_server.request(
        "POST", plan_url(parties.patient_id), json=body, headers=parties.owner.headers
    )
    assert response.status_code == 422, response.text
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == fields
    assert plan_count(database_url, parties.patient_id) == 0
    assert generations(database_url, parties.patient_id) == []


@pytest.mark.parametrize(
    ("who", "status"), list(zip(PARTY_NAMES, (401, 404, 403, 403, 201, 403), strict=True))
)
def test_only_the_owner_creates_plans(app_server, parties: Parties, database_url, who, status):
    response = create(app_server, parties, days=1, who=who)
    assert response.status_code == status, response.text
    assert plan_count(database_url, parties.patient_id) == (1 if status == 201 else 0)


# -- list ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), list(zip(PARTY_NAMES, (401, 404, 404, 200, 200, 200), strict=True))
)
def test_who_reads_the_plans(app_server, parties: Parties, database_url, who, status):
    older = create(app_server, parties, days=1).json()
    newer = create(app_server, parties, days=2).json()
    response = app_server.get(plan_url(parties.patient_id), headers=parties.headers(who))
    assert response.status_code == status, response.text
    views = db_rows(
        database_url,
        "SELECT resource_id FROM audit_events WHERE patient_id = %s AND action = 'view'"
        " AND resource_type = 'care_plan' ORDER BY event_id",
        parties.patient_id,
    )
    if status != 200:
        assert views == []
        return
    body = response.json()
    assert body["total"] == 2
    assert [p["care_plan_id"] for p in body["items"]] == [
        newer["care_plan_id"],
        older["care_plan_id"],
    ]
    assert body["items"][0] == newer
    assert [v["resource_id"] for v in views] == [
        str(newer["care_plan_id"]),
        str(older["care_plan_id"]),
    ]


def test_the_list_pages(app_server, parties: Parties):
    ids = [create(app_server, parties, days=1).json()["care_plan_id"] for _ in range(3)]
    page = app_server.get(
        plan_url(parties.patient_id),
        params={"limit": 1, "offset": 1},
        headers=parties.owner.headers,
    ).json()
    assert page["total"] == 3
    assert [p["care_plan_id"] for p in page["items"]] == [ids[1]]
