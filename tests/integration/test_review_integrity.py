"""Review farming (review item 7): a matching is completed, and so reviewable, only after its
contract has started and care was recorded; and a guardian's reviews of one caregiver count once
in its rating, however many matchings they completed together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from models.dates import korea_today
from tests.factories import (
    TestUser,
    cursor,
    make_care_log,
    make_caregiver,
    make_guardian,
    make_matching,
    make_patient,
    make_schedule,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


@dataclass
class Contract:
    guardian: TestUser
    caregiver: TestUser
    patient_id: int
    matching_id: int


def make_contract(
    database_url: str, *, status: str = "active", starts: date | None, ends: date | None = None
) -> Contract:
    """A guardian's patient and a caregiver's matching in `status`, with the contract's dates."""
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian)
        caregiver = make_caregiver(cur)
        matching_id = make_matching(cur, patient_id, caregiver, status=status)
        cur.execute(
            "UPDATE matching_results SET contract_start_date = %s, contract_end_date = %s"
            " WHERE matching_id = %s",
            (starts, ends, matching_id),
        )
    return Contract(guardian, caregiver, patient_id, matching_id)


def add_care(
    database_url: str,
    patient_id: int,
    day: date,
    *,
    completed: bool = True,
    schedule_status: str = "scheduled",
) -> None:
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, patient_id, day, status=schedule_status)
        make_care_log(cur, schedule_id, is_completed=completed)


def act(app_server, user: TestUser, matching_id: int, action: str):
    return app_server.request(
        "POST", f"api/matching-results/{matching_id}/{action}", headers=user.headers
    )


def status_of(database_url: str, matching_id: int) -> str:
    with cursor(database_url) as cur:
        cur.execute("SELECT status FROM matching_results WHERE matching_id = %s", (matching_id,))
        return str(cur.fetchone()["status"])


def review(app_server, user: TestUser, matching_id: int, rating: int):
    return app_server.request(
        "POST",
        f"api/matching-results/{matching_id}/reviews",
        json={"rating": rating},
        headers=user.headers,
    )


def rating_of(database_url: str, caregiver_id: int | None) -> tuple[Decimal, int]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT avg_rating, total_reviews FROM caregivers WHERE caregiver_id = %s",
            (caregiver_id,),
        )
        row = cur.fetchone()
    return row["avg_rating"], row["total_reviews"]


# -- completing requires care ---------------------------------------------------------------


def test_a_matching_cannot_be_completed_and_reviewed_right_after_accept(app_server, database_url):
    """The reported farm: accept, complete and review in a minute, before the contract starts."""
    contract = make_contract(database_url, status="selected", starts=None)
    starts = korea_today() + timedelta(days=7)
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE matching_requests SET start_date = %s WHERE request_id ="
            " (SELECT request_id FROM matching_results WHERE matching_id = %s)",
            (starts, contract.matching_id),
        )
    accepted = act(app_server, contract.caregiver, contract.matching_id, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["contract_start_date"] == starts.isoformat()

    refused = act(app_server, contract.guardian, contract.matching_id, "complete")

    detail = assert_problem(refused, 409, "conflict")["detail"]
    assert "not started" in detail
    assert starts.isoformat() in detail
    assert status_of(database_url, contract.matching_id) == "active"
    assert_problem(review(app_server, contract.guardian, contract.matching_id, 5), 409, "conflict")
    assert rating_of(database_url, contract.caregiver.caregiver_id) == (Decimal("0.00"), 0)


def test_a_contract_starting_tomorrow_in_korea_cannot_be_completed(app_server, database_url):
    tomorrow = korea_today() + timedelta(days=1)
    contract = make_contract(database_url, starts=tomorrow)
    add_care(database_url, contract.patient_id, tomorrow)  # even with a completed log
    refused = act(app_server, contract.guardian, contract.matching_id, "complete")
    assert "not started" in assert_problem(refused, 409, "conflict")["detail"]
    assert status_of(database_url, contract.matching_id) == "active"


@pytest.mark.parametrize(
    "care",
    [
        pytest.param([], id="no-schedule"),
        pytest.param([(-1, False, "scheduled")], id="log-not-completed"),
        pytest.param([(-4, True, "scheduled")], id="completed-before-the-contract"),
        pytest.param([(-1, True, "cancelled")], id="completed-on-a-cancelled-day"),
        pytest.param([(-1, True, "draft")], id="completed-on-a-draft"),
        pytest.param([(1, True, "scheduled")], id="completed-on-a-future-day"),
    ],
)
def test_a_started_contract_without_recorded_care_cannot_be_completed(
    app_server, database_url, care
):
    today = korea_today()
    contract = make_contract(database_url, starts=today - timedelta(days=3))
    for offset, completed, schedule_status in care:
        add_care(
            database_url,
            contract.patient_id,
            today + timedelta(days=offset),
            completed=completed,
            schedule_status=schedule_status,
        )

    refused = act(app_server, contract.guardian, contract.matching_id, "complete")

    assert "No care has been recorded" in assert_problem(refused, 409, "conflict")["detail"]
    assert status_of(database_url, contract.matching_id) == "active"


def test_another_patients_care_does_not_count(app_server, database_url):
    today = korea_today()
    contract = make_contract(database_url, starts=today - timedelta(days=3))
    with cursor(database_url) as cur:
        other_patient = make_patient(cur, contract.guardian)
    add_care(database_url, other_patient, today)
    refused = act(app_server, contract.guardian, contract.matching_id, "complete")
    assert_problem(refused, 409, "conflict")


def test_care_after_the_contract_ended_does_not_count(app_server, database_url):
    today = korea_today()
    contract = make_contract(
        database_url, starts=today - timedelta(days=10), ends=today - timedelta(days=2)
    )
    add_care(database_url, contract.patient_id, today - timedelta(days=1))
    early = act(app_server, contract.guardian, contract.matching_id, "complete")
    assert_problem(early, 409, "conflict")
    add_care(database_url, contract.patient_id, today - timedelta(days=5))
    done = act(app_server, contract.guardian, contract.matching_id, "complete")
    assert done.status_code == 200, done.text


def test_a_contract_that_started_today_with_care_done_completes_and_is_reviewed(
    app_server, database_url
):
    today = korea_today()
    contract = make_contract(database_url, starts=today)
    add_care(database_url, contract.patient_id, today)

    done = act(app_server, contract.guardian, contract.matching_id, "complete")

    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    created = review(app_server, contract.guardian, contract.matching_id, 5)
    assert created.status_code == 201, created.text
    assert rating_of(database_url, contract.caregiver.caregiver_id) == (Decimal("5.00"), 1)


# -- one review per (guardian, caregiver) in the rating ---------------------------------------


def test_a_guardians_newest_review_of_a_caregiver_replaces_its_older_ones(app_server, database_url):
    with cursor(database_url) as cur:
        caregiver = make_caregiver(cur)
        farmer = make_guardian(cur)
        patients = [make_patient(cur, farmer) for _ in range(2)]
        matchings = [
            make_matching(cur, patients[i % 2], caregiver, status="completed") for i in range(5)
        ]
        honest = make_guardian(cur)
        honest_matching = make_matching(
            cur, make_patient(cur, honest), caregiver, status="completed"
        )

    for matching_id in matchings:
        assert review(app_server, farmer, matching_id, 5).status_code == 201
    assert rating_of(database_url, caregiver.caregiver_id) == (Decimal("5.00"), 1)

    assert review(app_server, honest, honest_matching, 2).status_code == 201
    assert rating_of(database_url, caregiver.caregiver_id) == (Decimal("3.50"), 2)

    # The farmer's newest review is the one that counts, whichever matching it is about.
    with cursor(database_url) as cur:
        later = make_matching(cur, patients[0], caregiver, status="completed")
    assert review(app_server, farmer, later, 1).status_code == 201
    assert rating_of(database_url, caregiver.caregiver_id) == (Decimal("1.50"), 2)
    # Every review is still stored and listed; only the rating counts one per guardian.
    listed = app_server.get(
        f"api/caregivers/{caregiver.caregiver_id}/reviews", headers=honest.headers
    ).json()
    assert listed["total"] == 7
