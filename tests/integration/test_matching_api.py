"""Matching over HTTP on the served app: ranking, results, the lifecycle, offers, and who may
do what. Each test's world lives in Jeju with its own day and ten-minute slot, so the other
caregivers of the shared session database are filtered out (by region or availability)."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest

from models.dates import korea_today
from models.matching import FILTER_ORDER
from tests.factories import (
    PARTY_NAMES,
    Parties,
    TestUser,
    add_caregiver_availability,
    add_caregiver_specialties,
    cursor,
    make_care_log,
    make_caregiver,
    make_guardian,
    make_matching,
    make_patient,
    make_schedule,
)

pytestmark = pytest.mark.integration

PROTECTED_WORDS = ("성별", "남성", "여성", "나이", "연령", "세 ", "살")


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_slots = itertools.count()


@dataclass(frozen=True)
class Slot:
    """A day and a ten-minute window that only one world's caregivers are available for."""

    day: str
    hour: int

    def asked(self) -> dict:
        return {"start": f"{self.hour:02d}:10", "end": f"{self.hour:02d}:20"}


def next_slot() -> Slot:
    n = next(_slots)
    return Slot(day=DAYS[n % 7], hour=n // 7)


def request_body(slot: Slot | None = None, **overrides) -> dict:
    slot = slot or Slot("sun", 5)
    body = {
        "care_type": "caregiver",
        "days": [slot.day],
        "time_slots": [slot.asked()],
        "start_date": (korea_today() + timedelta(days=7)).isoformat(),
        "top_k": 3,
    }
    body.update(overrides)
    return body


def add_caregivers(cur, count: int, slot: Slot, *, region: str = "JEJU_JEJU") -> list:
    """Caregivers available around the slot, with varied experience and ratings."""
    made = []
    for i in range(count):
        user = make_caregiver(
            cur,
            region=region,
            experience_years=1 + i % 15,
            hourly_rate=12000 + 1000 * (i % 7),
            gender="female" if i % 2 else "male",
        )
        add_caregiver_availability(
            cur, user, [(slot.day, f"{slot.hour:02d}:05", f"{slot.hour:02d}:25")]
        )
        add_caregiver_specialties(cur, user, ["dementia"])
        cur.execute(
            "UPDATE caregivers SET avg_rating = %s, total_reviews = %s WHERE caregiver_id = %s",
            (3.0 + (i % 3) * 0.9, i % 5, user.caregiver_id),
        )
        made.append(user)
    return made


@dataclass
class World:
    guardian: TestUser
    patient_id: int
    caregivers: list
    slot: Slot

    def __iter__(self):  # guardian, patient_id, caregivers = world
        return iter((self.guardian, self.patient_id, self.caregivers))


@pytest.fixture
def world(database_url) -> World:
    """A guardian with a dementia patient in Jeju, and six caregivers free at the world's slot."""
    slot = next_slot()
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian, region_code="JEJU_SEOGWIPO")
        cur.execute(
            "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, 'dementia')",
            (patient_id,),
        )
        caregivers = add_caregivers(cur, 6, slot)
    return World(guardian, patient_id, caregivers, slot)


def post_request(app_server, world: World, **overrides):
    return app_server.request(
        "POST",
        f"api/patients/{world.patient_id}/matching-requests",
        json=request_body(world.slot, **overrides),
        headers=world.guardian.headers,
    )


def transition(app_server, user, matching_id, action):
    return app_server.request(
        "POST", f"api/matching-results/{matching_id}/{action}", headers=user.headers
    )


def test_ranked_results_are_stored_and_explained(app_server, world, database_url):
    guardian, patient_id, caregivers = world
    response = post_request(app_server, world)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["patient_id"] == patient_id
    assert body["model"]["kind"] in ("xgboost", "rules")
    assert body["model"]["version"]
    assert set(body["excluded"]) == set(FILTER_ORDER)
    survivors = body["candidates_considered"] - sum(body["excluded"].values())
    assert survivors == len(caregivers)  # only ours are free on Sunday 05:00-06:00
    results = body["results"]
    assert len(results) == 3
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    ours = {c.caregiver_id for c in caregivers}
    for result in results:
        assert result["caregiver"]["caregiver_id"] in ours
        assert 0 <= result["score"] <= 100
        cutoffs = [(90, "A+"), (80, "A"), (70, "B+"), (60, "B")]
        assert result["grade"] == next((g for c, g in cutoffs if result["score"] >= c), "C")
        assert result["status"] == "recommended"
        assert result["reasons"], "every recommendation says why"
        for reason in result["reasons"]:
            assert not any(word in reason for word in PROTECTED_WORDS), reason
        assert not {"phone", "email", "gender", "birth_date"} & set(result["caregiver"])

    listed = app_server.get(
        f"api/patients/{patient_id}/matching-results", headers=guardian.headers
    ).json()
    assert [r["matching_id"] for r in listed["items"]] == [r["matching_id"] for r in results]
    assert {r["request_id"] for r in listed["items"]} == {body["request_id"]}
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT excluded, model_kind, candidates_considered FROM matching_requests"
            " WHERE request_id = %s",
            (body["request_id"],),
        )
        stored = cur.fetchone()
    assert stored["excluded"] == body["excluded"]
    assert stored["model_kind"] == body["model"]["kind"]


def test_a_guardians_filter_is_a_requirement(app_server, world):
    _guardian, _patient_id, caregivers = world
    body = post_request(
        app_server, world, min_experience_years=5, gender_preference="female"
    ).json()
    expected = {
        c.caregiver_id
        for i, c in enumerate(caregivers)
        if i % 2 and 1 + i % 15 >= 5  # female and experienced enough
    }
    assert {r["caregiver"]["caregiver_id"] for r in body["results"]} <= expected
    assert body["excluded"]["gender"] >= 3


def test_no_survivor_is_an_empty_list_not_an_error(app_server, world):
    _guardian, _patient_id, _ = world
    body = post_request(app_server, world, max_hourly_rate=1).json()
    assert body["results"] == []
    assert body["excluded"]["budget"] >= 6


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"days": []}, ("body", "days")),
        ({"days": ["funday"]}, ("body", "days", 0)),
        ({"days": ["sun", "sun"]}, ("body", "days")),
        ({"time_slots": [{"start": "06:00", "end": "05:00"}]}, ("body", "time_slots", 0)),
        ({"time_slots": [{"start": "25:00", "end": "26:00"}]}, ("body", "time_slots", 0, "start")),
        ({"top_k": 0}, ("body", "top_k")),
        ({"top_k": 21}, ("body", "top_k")),
        ({"care_type": "doctor"}, ("body", "care_type")),
        ({"max_hourly_rate": 0}, ("body", "max_hourly_rate")),
        ({"required_specialties": ["flying"]}, ("body", "required_specialties", 0)),
        ({"surprise": True}, ("body", "surprise")),
    ],
)
def test_bad_requests_are_422_and_store_nothing(app_server, world, database_url, overrides, field):
    _guardian, patient_id, _ = world
    response = post_request(app_server, world, **overrides)
    assert response.status_code == 422, response.text
    assert tuple(response.json()["errors"][0]["loc"][: len(field)]) == field
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM matching_requests WHERE patient_id = %s", (patient_id,)
        )
        assert cur.fetchone()["n"] == 0


def test_end_date_before_start_date_is_422(app_server, world):
    _guardian, _patient_id, _ = world
    start = korea_today() + timedelta(days=7)
    response = post_request(
        app_server,
        world,
        start_date=start.isoformat(),
        end_date=(start - timedelta(days=1)).isoformat(),
    )
    assert response.status_code == 422


CREATE_STATUS = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 403,
    "assigned_caregiver": 403,
    "owner": 201,
    "admin": 403,
}
LIST_STATUS = {**CREATE_STATUS, "owner": 200, "admin": 200}


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_who_may_request_matching(app_server, parties: Parties, who):
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/matching-requests",
        json=request_body(),
        headers=parties.headers(who),
    )
    assert response.status_code == CREATE_STATUS[who], response.text


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_who_may_read_matching_results(app_server, parties: Parties, who):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/matching-results", headers=parties.headers(who)
    )
    assert response.status_code == LIST_STATUS[who], response.text


def _ranked(app_server, world):
    guardian, _patient_id, caregivers = world
    body = post_request(app_server, world).json()
    by_id = {c.caregiver_id: c for c in caregivers}
    return (
        guardian,
        body,
        [(r["matching_id"], by_id[r["caregiver"]["caregiver_id"]]) for r in body["results"]],
    )


def test_the_lifecycle_from_select_to_complete(app_server, world, parties: Parties, database_url):
    guardian, _, ranked = _ranked(app_server, world)
    (first, first_cg), (second, second_cg) = ranked[0], ranked[1]

    assert transition(app_server, first_cg, first, "select").status_code == 403
    selected = transition(app_server, guardian, first, "select")
    assert selected.status_code == 200, selected.text
    assert selected.json()["status"] == "selected"
    assert transition(app_server, guardian, second, "select").status_code == 409

    offers = app_server.get("api/caregivers/me/offers", headers=first_cg.headers).json()["items"]
    assert [o["matching_id"] for o in offers] == [first]
    assert set(offers[0]["patient"]) == {
        "age", "gender", "care_level", "conditions", "mobility_status", "region_code"
    }  # fmt: skip
    assert app_server.get("api/caregivers/me/offers", headers=second_cg.headers).json() == {
        "items": []
    }

    assert transition(app_server, second_cg, first, "accept").status_code == 404
    assert transition(app_server, guardian, first, "accept").status_code == 403
    assert transition(app_server, parties.admin, first, "accept").status_code == 403
    accepted = transition(app_server, first_cg, first, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"
    assert accepted.json()["contract_start_date"] == request_body(world.slot)["start_date"]
    assert transition(app_server, first_cg, first, "decline").status_code == 409
    assert transition(app_server, guardian, second, "select").status_code == 409

    # Completing needs a started contract and completed care (test_review_integrity.py).
    early = transition(app_server, guardian, first, "complete")
    assert early.status_code == 409, early.text
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE matching_results SET contract_start_date = %s WHERE matching_id = %s",
            (korea_today() - timedelta(days=1), first),
        )
        schedule_id = make_schedule(cur, world.patient_id, korea_today())
        make_care_log(cur, schedule_id, is_completed=True)
    done = transition(app_server, guardian, first, "complete")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert transition(app_server, guardian, first, "cancel").status_code == 409
    assert transition(app_server, parties.other_guardian, first, "complete").status_code == 404


def test_decline_and_cancel(app_server, world):
    guardian, _, ranked = _ranked(app_server, world)
    (first, first_cg), (second, second_cg) = ranked[0], ranked[1]
    transition(app_server, guardian, first, "select")
    assert transition(app_server, first_cg, first, "decline").json()["status"] == "declined"
    # The request is free again: the guardian may select another caregiver.
    assert transition(app_server, guardian, second, "select").status_code == 200
    assert transition(app_server, second_cg, second, "cancel").json()["status"] == "cancelled"
    assert transition(app_server, second_cg, second, "accept").status_code == 409


def test_two_concurrent_selects_cannot_both_succeed(app_server, world, database_url):
    guardian, body, ranked = _ranked(app_server, world)
    ids = [matching_id for matching_id, _ in ranked[:3]]
    with ThreadPoolExecutor(3) as pool:
        statuses = sorted(
            pool.map(lambda m: transition(app_server, guardian, m, "select").status_code, ids)
        )
    assert statuses == [200, 409, 409]
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM matching_results WHERE request_id = %s"
            " AND status IN ('selected', 'active')",
            (body["request_id"],),
        )
        assert cur.fetchone()["n"] == 1


def test_accepting_rechecks_that_the_caregiver_is_free(app_server, world, database_url):
    guardian, _, ranked = _ranked(app_server, world)
    matching_id, caregiver = ranked[0]
    transition(app_server, guardian, matching_id, "select")
    with cursor(database_url) as cur:  # meanwhile the caregiver took a Sunday-morning job
        other_patient = make_patient(cur, make_guardian(cur))
        make_matching(cur, other_patient, caregiver, status="active")
        cur.execute(
            "UPDATE matching_requests SET days = %s, time_slots = %s::jsonb"
            " WHERE request_id = (SELECT max(request_id) FROM matching_results"
            " WHERE caregiver_id = %s AND status = 'active')",
            ([world.slot.day], json.dumps([world.slot.asked()]), caregiver.caregiver_id),
        )
    refused = transition(app_server, caregiver, matching_id, "accept")
    assert refused.status_code == 409
    assert "active matching" in refused.json()["detail"]


def test_offers_are_for_caregivers_only(app_server, parties: Parties):
    assert (
        app_server.get("api/caregivers/me/offers", headers=parties.owner.headers).status_code == 403
    )
    offered = app_server.get(
        "api/caregivers/me/offers", headers=parties.offered_caregiver.headers
    ).json()["items"]
    assert [o["matching_id"] for o in offered] != []
    assert "name" not in offered[0]["patient"]
    assert "care_address" not in offered[0]["patient"]
