"""A visit's checklist and medication administration record over HTTP: the schedule's caregiver
tasks with Korean labels, outcomes that keep the care log in step, check-out held back by an
open task (422 checklist_incomplete), a locked visit that takes no more changes, medications
given, refused and listed for the month; each refusal a problem naming the field, writing
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import Parties, cursor, make_guardian, make_patient, set_patient_profile
from tests.integration.visit_details_data import (
    Day,
    audit_trail,
    iso,
    make_day,
    now,
    past_visit,
    stored,
    visit_row,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

MANUAL = {"method": "manual", "reason": "태그 인식 불가"}


@pytest.fixture
def day(database_url, parties: Parties) -> Day:
    return make_day(database_url, parties)


def care_log(database_url: str, care_log_id: int) -> dict:
    with cursor(database_url) as cur:
        cur.execute("SELECT * FROM care_logs WHERE care_log_id = %s", (care_log_id,))
        return dict(cur.fetchone())


def put_task(app_server, day: Day, care_log_id: int, body: dict, who="assigned_caregiver"):
    return app_server.request(
        "PUT",
        f"{day.visit_path}/tasks/{care_log_id}",
        headers=day.parties.headers(who),
        json=body,
    )


def put_medication(app_server, day: Day, medication_id: int, body: dict):
    return app_server.request(
        "PUT", f"{day.visit_path}/medications/{medication_id}", headers=day.caregiver(), json=body
    )


def refused_field(response, field: tuple) -> None:
    body = assert_problem(response, 422, "validation_error")
    assert [tuple(e["loc"]) for e in body["errors"]] == [field], body


# -- the checklist ---------------------------------------------------------------------------


def test_the_checklist_is_the_schedules_caregiver_tasks_with_korean_labels(
    app_server, database_url, day: Day
):
    response = app_server.get(f"{day.visit_path}/tasks", headers=day.parties.headers("owner"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["visit_id"], body["schedule_id"], body["missing"]) == (
        day.visit_id,
        day.schedule_id,
        2,
    )
    tasks = {t["care_log_id"]: t for t in body["items"]}
    assert set(tasks) == {day.vital_log_id, day.meal_log_id}  # the family task is not on it
    assert tasks[day.vital_log_id]["category_label"] == "활력징후"
    assert tasks[day.meal_log_id]["category_label"] == "식사"
    assert tasks[day.vital_log_id]["scheduled_time"] == "09:00"
    assert all(t["outcome"] is None and t["recorded_via"] is None for t in body["items"])
    assert audit_trail(database_url, day.parties.patient_id) == [("view", "visit_task", "guardian")]


def test_a_vital_check_done_with_readings_completes_its_care_log(
    app_server, database_url, day: Day
):
    vitals = {"systolic": 128, "diastolic": 82, "pulse": 70}
    response = put_task(app_server, day, day.vital_log_id, {"outcome": "done", "vitals": vitals})

    assert response.status_code == 200, response.text
    task = response.json()
    assert (task["outcome"], task["recorded_via"], task["is_completed"]) == (
        "done",
        "checklist",
        True,
    )
    assert task["vitals"] == {**vitals, "temperature_c": None, "blood_sugar": None}
    log = care_log(database_url, day.vital_log_id)
    caregiver = day.parties.assigned_caregiver
    assert (log["is_completed"], log["completed_by"], log["vitals"]) == (
        True,
        caregiver.user_id,
        vitals,
    )
    assert log["completed_at"] is not None
    assert audit_trail(database_url, day.parties.patient_id) == [
        ("update", "visit_task", "caregiver")
    ]


def test_not_done_needs_a_reason_and_un_completes_the_care_log(app_server, database_url, day):
    assert put_task(app_server, day, day.meal_log_id, {"outcome": "done"}).status_code == 200
    before = stored(database_url, day.parties.patient_id)

    refused_field(
        put_task(app_server, day, day.meal_log_id, {"outcome": "not_done"}), ("body", "reason")
    )
    refused_field(
        put_task(app_server, day, day.meal_log_id, {"outcome": "not_done", "reason": "x"}),
        ("body", "reason"),
    )
    assert stored(database_url, day.parties.patient_id) == before

    response = put_task(
        app_server, day, day.meal_log_id, {"outcome": "not_done", "reason": "식사 거부"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["outcome"], response.json()["reason"]) == ("not_done", "식사 거부")
    log = care_log(database_url, day.meal_log_id)
    assert (log["is_completed"], log["completed_at"], log["completed_by"]) == (False, None, None)


def test_vitals_keep_todays_ranges_and_belong_to_vital_checks(app_server, database_url, day):
    before = stored(database_url, day.parties.patient_id)

    refused_field(
        put_task(app_server, day, day.vital_log_id, {"outcome": "done", "vitals": {"pulse": 400}}),
        ("body", "vitals", "pulse"),
    )
    refused_field(
        put_task(
            app_server,
            day,
            day.vital_log_id,
            {"outcome": "done", "vitals": {"systolic": 80, "diastolic": 90}},
        ),
        ("body", "vitals", "diastolic"),
    )
    refused_field(
        put_task(app_server, day, day.meal_log_id, {"outcome": "done", "vitals": {"pulse": 70}}),
        ("body", "vitals"),
    )
    refused_field(
        put_task(
            app_server,
            day,
            day.vital_log_id,
            {"outcome": "not_done", "reason": "거부", "vitals": {"pulse": 70}},
        ),
        ("body", "vitals"),
    )
    assert stored(database_url, day.parties.patient_id) == before


def test_a_task_not_on_the_checklist_is_not_found(app_server, database_url, day: Day):
    other_day = past_visit(database_url, day.parties, days_ago=3)
    with cursor(database_url) as cur:
        cur.execute("SELECT schedule_id FROM visits WHERE visit_id = %s", (other_day,))
        other_schedule = cur.fetchone()["schedule_id"]
        cur.execute(
            "INSERT INTO care_logs (schedule_id, patient_id, category, task_name)"
            " VALUES (%s, %s, 'meal', '다른 날') RETURNING care_log_id",
            (other_schedule, day.parties.patient_id),
        )
        other_log = cur.fetchone()["care_log_id"]
    for care_log_id in (day.family_log_id, other_log, 987654321):
        response = put_task(app_server, day, care_log_id, {"outcome": "done"})
        assert_problem(response, 404, "not_found")


def test_check_out_waits_for_every_required_task(app_server, database_url, day: Day):
    response = app_server.request(
        "POST", f"{day.visit_path}/check-out", headers=day.caregiver(), json=MANUAL
    )

    body = assert_problem(response, 422, "checklist_incomplete")
    assert {tuple(e["loc"]) for e in body["errors"]} == {
        ("checklist", day.vital_log_id),
        ("checklist", day.meal_log_id),
    }
    assert any("혈압 측정" in e["msg"] for e in body["errors"])
    assert visit_row(database_url, day.visit_id)["status"] == "in_progress"

    assert put_task(app_server, day, day.vital_log_id, {"outcome": "done"}).status_code == 200
    still = app_server.request(
        "POST", f"{day.visit_path}/check-out", headers=day.caregiver(), json=MANUAL
    )
    body = assert_problem(still, 422, "checklist_incomplete")
    assert [tuple(e["loc"]) for e in body["errors"]] == [("checklist", day.meal_log_id)]

    not_done = {"outcome": "not_done", "reason": "식사 거부"}
    assert put_task(app_server, day, day.meal_log_id, not_done).status_code == 200
    done = app_server.request(
        "POST", f"{day.visit_path}/check-out", headers=day.caregiver(), json=MANUAL
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"


def test_a_care_log_completed_through_the_care_log_api_counts_as_done(
    app_server, database_url, day: Day
):
    for log_id in (day.vital_log_id, day.meal_log_id):
        response = app_server.request(
            "PATCH", f"api/care-logs/{log_id}", headers=day.caregiver(), json={"is_completed": True}
        )
        assert response.status_code == 200, response.text

    tasks = app_server.get(f"{day.visit_path}/tasks", headers=day.caregiver()).json()
    assert tasks["missing"] == 0
    assert {(t["outcome"], t["recorded_via"]) for t in tasks["items"]} == {("done", "care_log")}
    response = app_server.request(
        "POST", f"{day.visit_path}/check-out", headers=day.caregiver(), json=MANUAL
    )
    assert response.status_code == 200, response.text


def test_a_locked_visit_takes_no_more_tasks_or_medications(app_server, database_url, day: Day):
    for log_id in (day.vital_log_id, day.meal_log_id):
        put_task(app_server, day, log_id, {"outcome": "done"})
    checked_out = app_server.request(
        "POST", f"{day.visit_path}/check-out", headers=day.caregiver(), json=MANUAL
    )
    assert checked_out.status_code == 200, checked_out.text
    before = stored(database_url, day.parties.patient_id)

    task = put_task(app_server, day, day.meal_log_id, {"outcome": "not_done", "reason": "정정"})
    body = assert_problem(task, 409, "visit_not_open")
    assert "correction" in body["detail"]
    medication = put_medication(app_server, day, day.medication_ids[0], {"outcome": "missed"})
    assert_problem(medication, 409, "visit_not_open")
    assert stored(database_url, day.parties.patient_id) == before


def test_a_planned_visit_takes_no_tasks_yet(app_server, database_url, parties: Parties):
    make_day(database_url, parties)
    planned = past_visit(database_url, parties, days_ago=-1, status="planned")
    with cursor(database_url) as cur:
        cur.execute(
            "INSERT INTO care_logs (schedule_id, patient_id, category, task_name)"
            " SELECT schedule_id, patient_id, 'meal', '내일 식사' FROM visits WHERE visit_id = %s"
            " RETURNING care_log_id",
            (planned,),
        )
        log_id = cur.fetchone()["care_log_id"]
    response = app_server.request(
        "PUT",
        f"api/visits/{planned}/tasks/{log_id}",
        headers=parties.headers("assigned_caregiver"),
        json={"outcome": "done"},
    )
    body = assert_problem(response, 409, "visit_not_open")
    assert "planned" in body["detail"]


# -- medications -----------------------------------------------------------------------------


def test_each_medication_is_listed_with_this_visits_outcome(app_server, database_url, day: Day):
    first, second = day.medication_ids
    listed = app_server.get(f"{day.visit_path}/medications", headers=day.parties.headers("owner"))
    assert listed.status_code == 200, listed.text
    assert [(m["medication_id"], m["name"], m["outcome"]) for m in listed.json()["items"]] == [
        (first, "도네페질", None),
        (second, "아스피린", None),
    ]

    given_at = now() - timedelta(minutes=10)
    given = put_medication(
        app_server, day, first, {"outcome": "given", "administered_at": iso(given_at)}
    )
    assert given.status_code == 200, given.text
    assert (given.json()["outcome"], given.json()["outcome_label"]) == ("given", "투약 완료")
    refused = put_medication(app_server, day, second, {"outcome": "refused", "note": "삼키지 못함"})
    assert refused.status_code == 200, refused.text

    seen = app_server.get(f"{day.visit_path}/medications", headers=day.parties.headers("owner"))
    items = {m["medication_id"]: m for m in seen.json()["items"]}
    assert items[first]["outcome"] == "given"
    assert items[second]["outcome_label"] == "투약 거부"
    assert items[second]["note"] == "삼키지 못함"
    trail = audit_trail(database_url, day.parties.patient_id)
    assert trail.count(("update", "medication_administration", "caregiver")) == 2
    assert trail.count(("view", "medication_administration", "guardian")) == 2

    again = put_medication(
        app_server, day, second, {"outcome": "given", "administered_at": iso(now())}
    )
    assert again.status_code == 200, again.text
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM medication_administrations WHERE visit_id = %s",
            (day.visit_id,),
        )
        assert cur.fetchone()["n"] == 2  # recording again replaces the visit's entry


def test_a_dose_given_needs_its_time_within_the_visit(app_server, database_url, day: Day):
    medication = day.medication_ids[0]
    before = stored(database_url, day.parties.patient_id)

    refused_field(
        put_medication(app_server, day, medication, {"outcome": "given"}),
        ("body", "administered_at"),
    )
    early = iso(day.checked_in_at - timedelta(minutes=20))
    refused_field(
        put_medication(app_server, day, medication, {"outcome": "given", "administered_at": early}),
        ("body", "administered_at"),
    )
    later = iso(now() + timedelta(minutes=30))
    refused_field(
        put_medication(app_server, day, medication, {"outcome": "given", "administered_at": later}),
        ("body", "administered_at"),
    )
    no_offset = (now() - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    refused_field(
        put_medication(
            app_server, day, medication, {"outcome": "given", "administered_at": no_offset}
        ),
        ("body", "administered_at"),
    )
    refused_field(
        put_medication(app_server, day, medication, {"outcome": "forgotten"}), ("body", "outcome")
    )
    refused_field(
        put_medication(app_server, day, medication, {"outcome": "missed", "note": "x" * 501}),
        ("body", "note"),
    )
    assert stored(database_url, day.parties.patient_id) == before


def test_a_medication_of_another_patient_is_not_found(app_server, database_url, day: Day):
    with cursor(database_url) as cur:
        stranger = make_patient(cur, make_guardian(cur))
        (foreign,) = set_patient_profile(cur, stranger, medications=("메트포르민",))
    response = put_medication(app_server, day, foreign, {"outcome": "missed"})
    assert_problem(response, 404, "not_found")


def test_the_month_view_lists_the_patients_administrations(app_server, database_url, day: Day):
    given_at = iso(now() - timedelta(minutes=5))
    put_medication(
        app_server, day, day.medication_ids[0], {"outcome": "given", "administered_at": given_at}
    )
    put_medication(app_server, day, day.medication_ids[1], {"outcome": "not_applicable"})
    path = f"api/patients/{day.parties.patient_id}/medication-administrations"

    month = app_server.get(path, headers=day.parties.headers("owner"))

    assert month.status_code == 200, month.text
    body = month.json()
    assert body["total"] == 2
    assert [(a["medication_name"], a["outcome"]) for a in body["items"]] == [
        ("도네페질", "given"),
        ("아스피린", "not_applicable"),
    ]
    assert all(a["visit_id"] == day.visit_id for a in body["items"])
    assert body["items"][1]["outcome_label"] == "해당 없음"

    long_ago = app_server.get(path + "?from=2026-01-01&to=2026-01-31", headers=day.caregiver())
    assert long_ago.json() == {"items": [], "total": 0}
    paged = app_server.get(path + "?limit=1&offset=1", headers=day.caregiver()).json()
    assert (paged["total"], [a["medication_name"] for a in paged["items"]]) == (2, ["아스피린"])
    too_long = app_server.get(path + "?from=2026-01-01&to=2026-06-30", headers=day.caregiver())
    assert_problem(too_long, 422, "validation_error")


def test_an_offline_phones_replayed_outcomes_get_their_first_answers(
    app_server, database_url, day: Day
):
    """Tasks and doses sent again with their Idempotency-Key answer as the first time did."""
    headers = {**day.caregiver(), "Idempotency-Key": "task-vital-0001"}
    task_path = f"{day.visit_path}/tasks/{day.vital_log_id}"
    body = {"outcome": "done", "vitals": {"pulse": 72}}
    first = app_server.request("PUT", task_path, headers=headers, json=body)
    assert first.status_code == 200, first.text
    # Changed since (not offline), then the phone replays its queued first write.
    changed = {"outcome": "not_done", "reason": "측정 거부"}
    assert put_task(app_server, day, day.vital_log_id, changed).status_code == 200
    again = app_server.request("PUT", task_path, headers=headers, json=body)

    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert care_log(database_url, day.vital_log_id)["is_completed"] is False  # not re-done
    reused = app_server.request("PUT", task_path, headers=headers, json=changed)
    assert_problem(reused, 422, "idempotency_key_reused")

    dose = {"outcome": "refused", "note": "거부"}
    dose_headers = {**day.caregiver(), "Idempotency-Key": "dose-0001-abc"}
    dose_path = f"{day.visit_path}/medications/{day.medication_ids[0]}"
    given = app_server.request("PUT", dose_path, headers=dose_headers, json=dose)
    replayed = app_server.request("PUT", dose_path, headers=dose_headers, json=dose)
    assert (given.status_code, replayed.status_code) == (200, 200)
    assert replayed.json() == given.json()
    assert replayed.headers.get("Idempotent-Replayed") == "true"
