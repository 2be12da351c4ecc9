"""Corrections of a visit's times over HTTP: proposed by the caregiver for a locked visit, one
left checked in past its planned end, or a missed one; approved (the visit takes the times and
the correction keeps the old ones) or rejected by the guardian or an operator; one pending per
visit, the 30-day window (a setting), order, 24 hours, no overlap with the caregiver's other
visits; the guardian and operators are told; each step audited."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.factories import Parties, cursor, make_visit
from tests.integration.visit_details_data import (
    audit_trail,
    iso,
    make_day,
    now,
    outbox,
    past_visit,
    stored,
    visit_row,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


def propose(app_server, parties: Parties, visit_id: int, body: dict):
    return app_server.request(
        "POST",
        f"api/visits/{visit_id}/corrections",
        headers=parties.headers("assigned_caregiver"),
        json=body,
    )


def decide(app_server, parties: Parties, correction_id: int, decision: str, who="owner", **body):
    return app_server.request(
        "POST",
        f"api/visit-corrections/{correction_id}/{decision}",
        headers=parties.headers(who),
        json=body,
    )


def test_a_locked_visits_times_are_corrected_once_the_guardian_approves(
    app_server, database_url, parties: Parties
):
    visit_id = past_visit(database_url, parties, days_ago=2)
    before = visit_row(database_url, visit_id)
    earlier = before["check_in_at"] - timedelta(minutes=20)

    proposed = propose(
        app_server,
        parties,
        visit_id,
        {"reason_code": "forgot_check_in", "check_in_at": iso(earlier)},
    )

    assert proposed.status_code == 201, proposed.text
    correction = proposed.json()
    assert (correction["status"], correction["reason_label"]) == ("pending", "시작 태그 누락")
    assert correction["proposed_by"] == parties.assigned_caregiver.user_id
    assert visit_row(database_url, visit_id)["check_in_at"] == before["check_in_at"]
    notices = outbox(database_url, parties.patient_id, "correction_pending")
    recipients = {row["recipient_user_id"] for row in notices}
    assert {parties.owner.user_id, parties.admin.user_id} <= recipients
    assert {row["role"] for row in notices} == {"guardian", "admin"}
    assert notices[0]["payload"]["correction_id"] == correction["correction_id"]

    approved = decide(app_server, parties, correction["correction_id"], "approve", note="확인함")

    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["decided_by"], body["decision_note"]) == (
        "approved",
        parties.owner.user_id,
        "확인함",
    )
    after = visit_row(database_url, visit_id)
    assert after["check_in_at"] == earlier
    assert after["check_out_at"] == before["check_out_at"]
    assert (after["status"], after["locked_at"]) == ("completed", before["locked_at"])
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT previous_check_in_at, previous_check_out_at FROM visit_corrections"
            " WHERE correction_id = %s",
            (correction["correction_id"],),
        )
        kept = cur.fetchone()
    assert (kept["previous_check_in_at"], kept["previous_check_out_at"]) == (
        before["check_in_at"],
        before["check_out_at"],
    )
    assert audit_trail(database_url, parties.patient_id) == [
        ("create", "visit_correction", "caregiver"),
        ("update", "visit_correction", "guardian"),
        ("update", "visit", "guardian"),
    ]
    again = decide(app_server, parties, correction["correction_id"], "reject", who="admin")
    assert_problem(again, 409, "correction_decided")


def test_a_rejected_correction_leaves_the_visit_as_recorded(app_server, database_url, parties):
    visit_id = past_visit(database_url, parties, days_ago=2)
    before = visit_row(database_url, visit_id)
    later = before["check_out_at"] + timedelta(minutes=30)
    correction = propose(
        app_server, parties, visit_id, {"reason_code": "wrong_time", "check_out_at": iso(later)}
    ).json()

    rejected = decide(app_server, parties, correction["correction_id"], "reject", who="admin")

    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decided_by"]) == (
        "rejected",
        parties.admin.user_id,
    )
    assert visit_row(database_url, visit_id) == before
    listed = app_server.get(
        f"api/patients/{parties.patient_id}/visit-corrections?status=rejected",
        headers=parties.headers("owner"),
    ).json()
    assert [c["correction_id"] for c in listed["items"]] == [correction["correction_id"]]
    pending = app_server.get(
        f"api/patients/{parties.patient_id}/visit-corrections?status=pending",
        headers=parties.headers("owner"),
    ).json()
    assert pending == {"items": [], "total": 0}


def test_one_correction_waits_per_visit(app_server, database_url, parties: Parties):
    visit_id = past_visit(database_url, parties, days_ago=2)
    out = iso(visit_row(database_url, visit_id)["check_out_at"] + timedelta(minutes=5))
    body = {"reason_code": "device_failure", "check_out_at": out}
    first = propose(app_server, parties, visit_id, body)
    assert first.status_code == 201, first.text

    second = propose(app_server, parties, visit_id, body)

    assert_problem(second, 409, "conflict")
    decide(app_server, parties, first.json()["correction_id"], "reject")
    assert propose(app_server, parties, visit_id, body).status_code == 201


def test_a_visit_left_checked_in_past_its_end_is_closed_by_a_correction_after_its_checklist(
    app_server, database_url, parties: Parties
):
    with cursor(database_url) as cur:
        cur.execute(
            "INSERT INTO schedules (patient_id, schedule_date, status)"
            " VALUES (%s, current_date - 1, 'scheduled') RETURNING schedule_id",
            (parties.patient_id,),
        )
        schedule_id = cur.fetchone()["schedule_id"]
        start = now() - timedelta(hours=5)
        visit_id = make_visit(
            cur,
            schedule_id,
            parties.assigned_caregiver,
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            check_in_at=start,
        )
        cur.execute(
            "INSERT INTO care_logs (schedule_id, patient_id, category, task_name)"
            " VALUES (%s, %s, 'hygiene', '목욕 보조') RETURNING care_log_id",
            (schedule_id, parties.patient_id),
        )
        task_id = cur.fetchone()["care_log_id"]
    without_end = propose(app_server, parties, visit_id, {"reason_code": "forgot_check_out"})
    assert_problem(without_end, 422, "validation_error")
    still_open = propose(
        app_server,
        parties,
        visit_id,
        {"reason_code": "forgot_check_out", "check_in_at": iso(start - timedelta(minutes=5))},
    )
    body = assert_problem(still_open, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "check_out_at"]

    end = start + timedelta(hours=2)
    closing = {"reason_code": "forgot_check_out", "check_out_at": iso(end)}
    open_task = assert_problem(
        propose(app_server, parties, visit_id, closing), 422, "checklist_incomplete"
    )
    assert open_task["errors"][0]["loc"] == ["checklist", task_id]
    recorded = app_server.request(
        "PUT",
        f"api/visits/{visit_id}/tasks/{task_id}",
        headers=parties.headers("assigned_caregiver"),
        json={"outcome": "done"},
    )
    assert recorded.status_code == 200, recorded.text
    proposed = propose(app_server, parties, visit_id, closing)
    assert proposed.status_code == 201, proposed.text
    approved = decide(app_server, parties, proposed.json()["correction_id"], "approve", who="admin")

    assert approved.status_code == 200, approved.text
    assert approved.json()["previous_check_out_at"] is None
    visit = visit_row(database_url, visit_id)
    assert (visit["status"], visit["check_out_at"]) == ("completed", end)
    assert visit["locked_at"] is not None


def test_an_in_progress_visit_within_its_time_is_checked_out_not_corrected(
    app_server, database_url, parties: Parties
):
    day = make_day(database_url, parties)
    planned = past_visit(database_url, parties, days_ago=-1, status="planned")
    before = stored(database_url, parties.patient_id)
    response = propose(
        app_server,
        parties,
        day.visit_id,
        {"reason_code": "forgot_check_out", "check_out_at": iso(now() - timedelta(minutes=1))},
    )
    body = assert_problem(response, 409, "visit_not_correctable")
    assert "check out" in body["detail"]
    later = propose(
        app_server,
        parties,
        planned,
        {"reason_code": "other", "reason_text": "미리", "check_out_at": iso(now())},
    )
    assert_problem(later, 409, "visit_not_correctable")
    assert stored(database_url, parties.patient_id) == before


def test_a_missed_visit_that_was_served_takes_both_times(app_server, database_url, parties):
    visit_id = past_visit(database_url, parties, days_ago=3, status="missed")
    planned = visit_row(database_url, visit_id)
    only_in = propose(
        app_server,
        parties,
        visit_id,
        {"reason_code": "tag_unreadable", "check_in_at": iso(planned["planned_start"])},
    )
    body = assert_problem(only_in, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "check_out_at"]

    both = {
        "reason_code": "tag_unreadable",
        "check_in_at": iso(planned["planned_start"]),
        "check_out_at": iso(planned["planned_end"]),
    }
    proposed = propose(app_server, parties, visit_id, both)
    assert proposed.status_code == 201, proposed.text
    assert (
        decide(app_server, parties, proposed.json()["correction_id"], "approve").status_code == 200
    )
    visit = visit_row(database_url, visit_id)
    assert (visit["status"], visit["check_in_at"], visit["check_out_at"]) == (
        "completed",
        planned["planned_start"],
        planned["planned_end"],
    )
    assert visit["missed_at"] == planned["missed_at"]  # kept as history


def test_times_that_cannot_stand_are_refused_naming_the_field(app_server, database_url, parties):
    visit_id = past_visit(database_url, parties, days_ago=2)
    row = visit_row(database_url, visit_id)
    before = stored(database_url, parties.patient_id)
    cases = [
        ({"reason_code": "wrong_time"}, "check_out_at"),
        ({"reason_code": "other", "check_in_at": iso(row["check_in_at"])}, "reason_text"),
        (
            {
                "reason_code": "wrong_time",
                "check_in_at": iso(row["check_in_at"]),
                "check_out_at": iso(row["check_in_at"]),
            },
            "check_out_at",
        ),
        (
            {"reason_code": "wrong_time", "check_in_at": iso(row["check_out_at"])},
            "check_in_at",
        ),
        (
            {
                "reason_code": "wrong_time",
                "check_out_at": iso(row["check_in_at"] + timedelta(hours=25)),
            },
            "check_out_at",
        ),
        (
            {"reason_code": "wrong_time", "check_out_at": iso(now() + timedelta(hours=1))},
            "check_out_at",
        ),
        ({"reason_code": "lost", "check_in_at": iso(row["check_in_at"])}, "reason_code"),
        (
            {"reason_code": "wrong_time", "check_in_at": row["check_in_at"].date().isoformat()},
            "check_in_at",
        ),
    ]
    for body, field in cases:
        response = propose(app_server, parties, visit_id, body)
        problem = assert_problem(response, 422, "validation_error")
        assert ["body", field] in [e["loc"] for e in problem["errors"]], (body, problem)
    assert stored(database_url, parties.patient_id) == before


def test_corrected_times_may_not_overlap_the_caregivers_other_visits(
    app_server, database_url, parties: Parties
):
    morning = past_visit(database_url, parties, days_ago=4, hour=0)  # 00:00-02:00 UTC
    later = past_visit(database_url, parties, days_ago=4, hour=3)  # 03:00-05:00 UTC, same day
    earlier_start = visit_row(database_url, morning)["check_out_at"] - timedelta(minutes=30)
    body = {"reason_code": "wrong_time", "check_in_at": iso(earlier_start)}

    refused = propose(app_server, parties, later, body)
    assert_problem(refused, 409, "visit_overlap")

    # Proposed while free, then the other visit's times move into the way: approval checks again.
    fine = {
        "reason_code": "wrong_time",
        "check_in_at": iso(visit_row(database_url, later)["check_in_at"] - timedelta(minutes=50)),
    }
    proposed = propose(app_server, parties, later, fine)
    assert proposed.status_code == 201, proposed.text
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE visits SET check_out_at = check_out_at + interval '30 minutes'"
            " WHERE visit_id = %s",
            (morning,),
        )
    before = visit_row(database_url, later)
    approved = decide(app_server, parties, proposed.json()["correction_id"], "approve")
    assert_problem(approved, 409, "visit_overlap")
    assert visit_row(database_url, later) == before


def test_visits_older_than_the_window_cannot_be_corrected(app_server, database_url, parties):
    old = past_visit(database_url, parties, days_ago=31)
    out = iso(visit_row(database_url, old)["check_out_at"] + timedelta(minutes=5))

    response = propose(app_server, parties, old, {"reason_code": "wrong_time", "check_out_at": out})

    body = assert_problem(response, 409, "visit_not_correctable")
    assert "30 days" in body["detail"]
    recent = past_visit(database_url, parties, days_ago=29)
    out = iso(visit_row(database_url, recent)["check_out_at"] + timedelta(minutes=5))
    ok = propose(app_server, parties, recent, {"reason_code": "wrong_time", "check_out_at": out})
    assert ok.status_code == 201, ok.text


def test_the_window_is_a_setting(start_app_server, database_url, parties: Parties):
    app = start_app_server(VISIT_CORRECTION_WINDOW_DAYS="2")
    visit_id = past_visit(database_url, parties, days_ago=3)
    out = iso(visit_row(database_url, visit_id)["check_out_at"] + timedelta(minutes=5))

    response = propose(app, parties, visit_id, {"reason_code": "wrong_time", "check_out_at": out})

    body = assert_problem(response, 409, "visit_not_correctable")
    assert "2 days" in body["detail"]


def test_a_replayed_proposal_answers_its_first_answer_not_a_conflict(
    app_server, database_url, parties: Parties
):
    visit_id = past_visit(database_url, parties, days_ago=2)
    out = iso(visit_row(database_url, visit_id)["check_out_at"] + timedelta(minutes=5))
    headers = {**parties.headers("assigned_caregiver"), "Idempotency-Key": "correction-0001"}
    body = {"reason_code": "device_failure", "check_out_at": out}
    path = f"api/visits/{visit_id}/corrections"

    first = app_server.request("POST", path, headers=headers, json=body)
    notices = outbox(database_url, parties.patient_id, "correction_pending")
    again = app_server.request("POST", path, headers=headers, json=body)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert notices
    assert outbox(database_url, parties.patient_id, "correction_pending") == notices
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM visit_corrections WHERE visit_id = %s", (visit_id,))
        assert cur.fetchone()["n"] == 1


def test_two_approvals_at_once_cannot_make_the_caregivers_visits_overlap(
    app_env, app_server, database_url, parties: Parties
):
    """Each proposal is free of the other visit's recorded times, but not of the other
    proposal: approved at the same time by two deciders, the second waits for the first (the
    caregiver's lock) and then sees the overlap, instead of both committing."""
    from models.visit_details import CorrectionDecision
    from models.vocabularies import Role
    from shared.auth.principal import Actor, Principal
    from shared.unit_of_work import UnitOfWork
    from shared.visits import corrections

    morning = past_visit(database_url, parties, days_ago=4, hour=0)  # 00:00-02:00 UTC
    later = past_visit(database_url, parties, days_ago=4, hour=4)  # 04:00-06:00 UTC
    morning_out = visit_row(database_url, morning)["check_out_at"] + timedelta(hours=1)
    later_in = visit_row(database_url, later)["check_in_at"] - timedelta(hours=1, minutes=30)
    first = propose(
        app_server,
        parties,
        morning,
        {"reason_code": "wrong_time", "check_out_at": iso(morning_out)},
    )
    second = propose(
        app_server, parties, later, {"reason_code": "wrong_time", "check_in_at": iso(later_in)}
    )
    assert (first.status_code, second.status_code) == (201, 201), second.text
    owner, admin = parties.owner, parties.admin
    guardian = Actor(Principal(owner.user_id, Role.GUARDIAN, owner.email, "owner"), "r1", None)
    operator = Actor(Principal(admin.user_id, Role.ADMIN, admin.email, "admin"), "r2", None)
    outcome: list[object] = []

    def approve_second() -> None:
        try:
            with UnitOfWork(operator) as uow:
                corrections.approve(uow, second.json()["correction_id"], CorrectionDecision())
            outcome.append("approved")
        except Exception as exc:  # the answer the second decider would get
            outcome.append(exc)

    with UnitOfWork(guardian) as uow:
        corrections.approve(uow, first.json()["correction_id"], CorrectionDecision())
        racing = threading.Thread(target=approve_second)
        racing.start()
        racing.join(timeout=2)  # with the fix it waits here for this transaction
    racing.join(timeout=30)

    assert len(outcome) == 1
    assert isinstance(outcome[0], corrections.VisitOverlapError), outcome
    assert visit_row(database_url, morning)["check_out_at"] == morning_out
    assert visit_row(database_url, later)["check_in_at"] != later_in
