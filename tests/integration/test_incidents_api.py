"""Incidents over HTTP: the caregiver (or an operator) reports one, the guardian and operators
are told at once and urgently (the outbox, in the report's transaction), the care team reads
them, operators follow up; each bad value a 422 naming the field that writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import (
    Parties,
    cursor,
    make_caregiver,
    make_matching,
    make_parties,
    make_visit,
)
from tests.integration.visit_details_data import (
    audit_trail,
    iso,
    make_day,
    now,
    outbox,
    past_visit,
    stored,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


def fall(**extra) -> dict:
    return {
        "kind": "fall",
        "severity": "high",
        "occurred_at": iso(now() - timedelta(minutes=10)),
        "description": "욕실에서 미끄러져 넘어지심",
        "actions_taken": "119 신고, 보호자 연락",
        **extra,
    }


def report(app_server, parties: Parties, body: dict, who="assigned_caregiver"):
    return app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/incidents",
        headers=parties.headers(who),
        json=body,
    )


def test_a_caregivers_report_tells_the_guardian_and_operators_at_once(
    app_server, database_url, parties: Parties
):
    day = make_day(database_url, parties)

    response = report(app_server, parties, fall(visit_id=day.visit_id))

    assert response.status_code == 201, response.text
    incident = response.json()
    assert (incident["kind_label"], incident["severity_label"], incident["follow_up_label"]) == (
        "낙상",
        "심각",
        "접수",
    )
    assert (incident["visit_id"], incident["reported_by"], incident["reporter_role"]) == (
        day.visit_id,
        parties.assigned_caregiver.user_id,
        "caregiver",
    )
    assert incident["follow_up_status"] == "open"
    notices = outbox(database_url, parties.patient_id, "incident")
    assert {parties.owner.user_id, parties.admin.user_id} <= {
        row["recipient_user_id"] for row in notices
    }
    assert {row["channel"] for row in notices} == {"in_app", "web_push", "email"}
    assert all(row["urgent"] for row in notices)
    assert notices[0]["payload"]["incident_id"] == incident["incident_id"]
    assert notices[0]["payload"]["kind_label"] == "낙상"
    assert audit_trail(database_url, parties.patient_id) == [("create", "incident", "caregiver")]


def test_an_operator_may_report_and_follows_up(app_server, database_url, parties: Parties):
    reported = report(app_server, parties, fall(kind="behaviour_change"), who="admin")
    assert reported.status_code == 201, reported.text
    incident_id = reported.json()["incident_id"]
    assert reported.json()["reporter_role"] == "admin"
    path = f"api/incidents/{incident_id}"

    patched = app_server.request(
        "PATCH",
        path,
        headers=parties.headers("admin"),
        json={"follow_up_status": "in_progress", "follow_up_note": "방문 간호 연계"},
    )

    assert patched.status_code == 200, patched.text
    assert (patched.json()["follow_up_status"], patched.json()["follow_up_label"]) == (
        "in_progress",
        "조치 중",
    )
    resolved = app_server.request(
        "PATCH", path, headers=parties.headers("admin"), json={"follow_up_status": "resolved"}
    ).json()
    assert (resolved["follow_up_status"], resolved["follow_up_note"]) == (
        "resolved",
        "방문 간호 연계",
    )
    cleared = app_server.request(
        "PATCH", path, headers=parties.headers("admin"), json={"follow_up_note": None}
    ).json()
    assert (cleared["follow_up_status"], cleared["follow_up_note"]) == ("resolved", None)
    seen = app_server.get(path, headers=parties.headers("owner"))
    assert seen.json() == cleared
    trail = audit_trail(database_url, parties.patient_id)
    assert trail == [
        ("create", "incident", "admin"),
        ("update", "incident", "admin"),
        ("update", "incident", "admin"),
        ("update", "incident", "admin"),
        ("view", "incident", "guardian"),
    ]


def test_the_care_team_lists_incidents_latest_first(app_server, database_url, parties: Parties):
    older = report(
        app_server, parties, fall(occurred_at=iso(now() - timedelta(days=2)), kind="injury")
    ).json()
    newer = report(app_server, parties, fall(kind="care_refusal", severity="low")).json()
    app_server.request(
        "PATCH",
        f"api/incidents/{older['incident_id']}",
        headers=parties.headers("admin"),
        json={"follow_up_status": "resolved"},
    )
    path = f"api/patients/{parties.patient_id}/incidents"

    listed = app_server.get(path, headers=parties.headers("assigned_caregiver")).json()
    assert [i["incident_id"] for i in listed["items"]] == [
        newer["incident_id"],
        older["incident_id"],
    ]
    assert listed["total"] == 2
    open_ones = app_server.get(path + "?follow_up_status=open", headers=parties.headers("owner"))
    assert [i["incident_id"] for i in open_ones.json()["items"]] == [newer["incident_id"]]
    bad = app_server.get(path + "?follow_up_status=closed", headers=parties.headers("owner"))
    assert_problem(bad, 422, "validation_error")


def test_bad_reports_are_refused_naming_the_field_and_write_nothing(
    app_server, database_url, parties: Parties
):
    with cursor(database_url) as cur:
        colleague = make_caregiver(cur)
        make_matching(cur, parties.patient_id, colleague, status="active")
    with cursor(database_url) as cur:
        cur.execute(
            "INSERT INTO schedules (patient_id, schedule_date, status)"
            " VALUES (%s, current_date - 5, 'scheduled') RETURNING schedule_id",
            (parties.patient_id,),
        )
        schedule_id = cur.fetchone()["schedule_id"]
        colleagues_visit = make_visit(
            cur, schedule_id, colleague, planned_start=now() - timedelta(days=5)
        )
    other_patients_visit = past_visit(database_url, make_parties(database_url), days_ago=1)
    before = stored(database_url, parties.patient_id)
    cases = [
        (fall(kind="slip"), "kind"),
        (fall(severity="extreme"), "severity"),
        (fall(description=""), "description"),
        (fall(description="x" * 2001), "description"),
        (fall(actions_taken="x" * 2001), "actions_taken"),
        (fall(occurred_at=iso(now() + timedelta(hours=1))), "occurred_at"),
        (fall(occurred_at="2026-12-01"), "occurred_at"),
        (fall(visit_id=other_patients_visit), "visit_id"),
        (fall(visit_id=colleagues_visit), "visit_id"),
        (fall(visit_id=0), "visit_id"),
        ({**fall(), "reporter": "me"}, "reporter"),
    ]
    for body, field in cases:
        problem = assert_problem(report(app_server, parties, body), 422, "validation_error")
        assert ["body", field] in [e["loc"] for e in problem["errors"]], (body, problem)
    assert stored(database_url, parties.patient_id) == before
    # An operator may name any visit of the patient, the colleague's included.
    by_admin = report(app_server, parties, fall(visit_id=colleagues_visit), who="admin")
    assert by_admin.status_code == 201, by_admin.text


def test_a_follow_up_must_say_something(app_server, database_url, parties: Parties):
    incident_id = report(app_server, parties, fall()).json()["incident_id"]
    before = stored(database_url, parties.patient_id)
    for body in ({}, {"follow_up_status": None}, {"follow_up_status": "closed"}):
        response = app_server.request(
            "PATCH", f"api/incidents/{incident_id}", headers=parties.headers("admin"), json=body
        )
        assert_problem(response, 422, "validation_error")
    assert stored(database_url, parties.patient_id) == before


def test_an_offline_phones_replayed_report_is_written_and_announced_once(
    app_server, database_url, parties: Parties
):
    headers = {**parties.headers("assigned_caregiver"), "Idempotency-Key": "incident-7f3a9c21"}
    body = fall()
    path = f"api/patients/{parties.patient_id}/incidents"

    first = app_server.request("POST", path, headers=headers, json=body)
    notices = outbox(database_url, parties.patient_id, "incident")
    again = app_server.request("POST", path, headers=headers, json=body)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert outbox(database_url, parties.patient_id, "incident") == notices
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM incidents WHERE patient_id = %s", (parties.patient_id,)
        )
        assert cur.fetchone()["n"] == 1
    other = app_server.request("POST", path, headers=headers, json=fall(severity="low"))
    assert_problem(other, 422, "idempotency_key_reused")
