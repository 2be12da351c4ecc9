"""Caregivers over HTTP on the served app: own profile, public card, availability, personality.

Each change is checked against the database, and each refused change is checked to have written
nothing (the tables' rows for that caregiver are compared before and after).
"""

from __future__ import annotations

from typing import Any, cast

import pytest
import requests

from models.caregivers import CaregiverProfileIn
from models.vocabularies import Role
from shared.auth.principal import Actor, Principal
from shared.caregivers import repository, service
from shared.db import Cursor
from shared.errors import ValidationFailedError
from shared.unit_of_work import UnitOfWork
from tests.factories import (
    PARTY_NAMES,
    Parties,
    TestUser,
    add_caregiver_availability,
    add_caregiver_specialties,
    cursor,
    make_caregiver,
    make_user,
    set_caregiver_personality,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

CARD_KEYS = {
    "caregiver_id",
    "name",
    "experience_years",
    "certifications",
    "specialties",
    "service_region",
    "has_vehicle",
    "hourly_rate",
    "avg_rating",
    "total_reviews",
    "bio",
}
PRIVATE_KEYS = {"phone", "email", "address", "birth_date", "gender", "user_id"}
#: Who may use the caregiver's own endpoints: caregivers only (others 403, anonymous 401).
OWN_ENDPOINT_STATUS = {
    "anonymous": 401,
    "other_guardian": 403,
    "unassigned_caregiver": 200,
    "assigned_caregiver": 200,
    "owner": 403,
    "admin": 403,
}
#: The public card: every signed-in party.
CARD_STATUS = {who: (401 if who == "anonymous" else 200) for who in PARTY_NAMES}


def profile_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "experience_years": 7,
        "certifications": ["caregiver_1", "nurse_aide"],
        "specialties": ["dementia", "hospice"],
        "service_region": "SEOUL_GANGNAM",
        "has_vehicle": True,
        "hourly_rate": 18000,
        "bio": "치매 어르신 돌봄 7년 경력입니다.",
    }
    body.update(overrides)
    return body


def slots_body(*slots: tuple[str, str, str]) -> dict[str, Any]:
    return {"slots": [{"day": d, "start": s, "end": e} for d, s, e in slots]}


def personality_body(**overrides: Any) -> dict[str, Any]:
    return {"empathy": 80, "activity": 40, "patience": 90, "independence": 55, **overrides}


def new_caregiver_without_profile(database_url: str, name: str = "박요양") -> TestUser:
    with cursor(database_url) as cur:
        return make_user(cur, "caregiver", name=name, gender="male")


def new_caregiver_with_profile(database_url: str, **kwargs: Any) -> TestUser:
    with cursor(database_url) as cur:
        return make_caregiver(cur, name="이돌봄", **kwargs)


def caregiver_rows(database_url: str, user_id: int) -> dict[str, Any]:
    """Everything stored about a caregiver, to prove a refused request changed nothing."""
    with cursor(database_url) as cur:
        cur.execute("SELECT * FROM caregivers WHERE user_id = %s", (user_id,))
        profile = cur.fetchone()
        state: dict[str, Any] = {"profile": profile}
        if profile is None:
            return state
        caregiver_id = profile["caregiver_id"]
        for table, order in (
            ("caregiver_certifications", "code"),
            ("caregiver_specialties", "code"),
            ("caregiver_availability", "day, start_time"),
            ("caregiver_personality", "caregiver_id"),
        ):
            cur.execute(
                f"SELECT * FROM {table} WHERE caregiver_id = %s ORDER BY {order}",
                (caregiver_id,),
            )
            state[table] = cur.fetchall()
        return state


def assert_422_at(response: requests.Response, loc: list[Any]) -> None:
    body = assert_problem(response, 422, "validation_error")
    locs = [error["loc"] for error in body["errors"]]
    assert loc in locs, locs


# -- PUT/GET /api/caregivers/me ----------------------------------------------------------------


def test_put_profile_creates_it_and_get_returns_the_whole_profile(app_server, database_url):
    caregiver = new_caregiver_without_profile(database_url)
    assert_problem(app_server.get("api/caregivers/me", headers=caregiver.headers), 404, "not_found")

    response = app_server.request(
        "PUT", "api/caregivers/me", json=profile_body(), headers=caregiver.headers
    )

    assert response.status_code == 200, response.text
    profile = response.json()
    assert isinstance(profile["caregiver_id"], int)
    assert {k: profile[k] for k in CARD_KEYS - {"caregiver_id"}} == {
        "name": "박요양",
        "experience_years": 7,
        "certifications": ["caregiver_1", "nurse_aide"],
        "specialties": ["dementia", "hospice"],
        "service_region": "SEOUL_GANGNAM",
        "has_vehicle": True,
        "hourly_rate": 18000,
        "avg_rating": 0.0,
        "total_reviews": 0,
        "bio": "치매 어르신 돌봄 7년 경력입니다.",
    }
    assert profile["certification_labels"] == {
        "caregiver_1": "요양보호사 1급",
        "nurse_aide": "간호조무사",
    }
    assert profile["specialty_labels"] == {"dementia": "치매", "hospice": "호스피스"}
    assert profile["availability"] == []
    assert profile["personality"] is None
    assert not PRIVATE_KEYS & set(profile)

    got = app_server.get("api/caregivers/me", headers=caregiver.headers)
    assert got.status_code == 200, got.text
    assert got.json() == profile
    stored = caregiver_rows(database_url, caregiver.user_id)
    assert stored["profile"]["caregiver_id"] == profile["caregiver_id"]
    assert [r["code"] for r in stored["caregiver_certifications"]] == ["caregiver_1", "nurse_aide"]
    assert [r["code"] for r in stored["caregiver_specialties"]] == ["dementia", "hospice"]


def test_put_profile_again_replaces_fields_and_sets(app_server, database_url):
    caregiver = new_caregiver_without_profile(database_url)
    first = app_server.request(
        "PUT", "api/caregivers/me", json=profile_body(), headers=caregiver.headers
    ).json()
    body = profile_body(
        experience_years=0,
        certifications=["nurse", "nurse", "social_worker_2"],  # a set: duplicates collapse
        specialties=[],
        service_region="BUSAN_HAEUNDAE",
        has_vehicle=False,
        hourly_rate=1_000_000,
    )
    del body["bio"]  # PUT replaces: an omitted bio is cleared

    second = app_server.request("PUT", "api/caregivers/me", json=body, headers=caregiver.headers)

    assert second.status_code == 200, second.text
    profile = second.json()
    assert profile["caregiver_id"] == first["caregiver_id"]
    assert profile["certifications"] == ["nurse", "social_worker_2"]
    assert profile["specialties"] == []
    assert profile["specialty_labels"] == {}
    assert (profile["experience_years"], profile["hourly_rate"]) == (0, 1_000_000)
    assert (profile["service_region"], profile["has_vehicle"], profile["bio"]) == (
        "BUSAN_HAEUNDAE",
        False,
        None,
    )
    stored = caregiver_rows(database_url, caregiver.user_id)
    assert [r["code"] for r in stored["caregiver_certifications"]] == ["nurse", "social_worker_2"]
    assert stored["caregiver_specialties"] == []


def test_put_profile_keeps_ratings_availability_and_personality(app_server, database_url):
    caregiver = new_caregiver_with_profile(database_url)
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE caregivers SET avg_rating = 4.5, total_reviews = 2 WHERE caregiver_id = %s",
            (caregiver.caregiver_id,),
        )
        add_caregiver_availability(cur, caregiver, [("tue", "09:00", "13:00")])
        set_caregiver_personality(cur, caregiver, empathy=70)

    profile = app_server.request(
        "PUT", "api/caregivers/me", json=profile_body(), headers=caregiver.headers
    ).json()

    assert (profile["avg_rating"], profile["total_reviews"]) == (4.5, 2)
    assert profile["availability"] == [{"day": "tue", "start": "09:00", "end": "13:00"}]
    assert profile["personality"]["empathy"] == 70


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"experience_years": -1}, ["body", "experience_years"]),
        ({"experience_years": 71}, ["body", "experience_years"]),
        ({"experience_years": "5"}, ["body", "experience_years"]),
        ({"experience_years": None}, ["body", "experience_years"]),
        ({"certifications": ["pilot"]}, ["body", "certifications", 0]),
        ({"certifications": "nurse"}, ["body", "certifications"]),
        ({"specialties": ["dementia", "flying"]}, ["body", "specialties", 1]),
        ({"service_region": "seoul_gangnam"}, ["body", "service_region"]),
        ({"service_region": "TOKYO_SHIBUYA"}, ["body", "service_region"]),
        ({"service_region": "SEOUL"}, ["body", "service_region"]),
        ({"has_vehicle": "yes"}, ["body", "has_vehicle"]),
        ({"hourly_rate": 0}, ["body", "hourly_rate"]),
        ({"hourly_rate": 1_000_001}, ["body", "hourly_rate"]),
        ({"hourly_rate": 15000.5}, ["body", "hourly_rate"]),
        ({"bio": "가" * 2001}, ["body", "bio"]),
        ({"email": "kim@example.com"}, ["body", "email"]),
        ({"hourly_rate": ...}, ["body", "hourly_rate"]),
        ({"certifications": ...}, ["body", "certifications"]),
    ],
)
def test_bad_profile_is_422_naming_the_field_and_writes_nothing(
    app_server, database_url, overrides, loc
):
    caregiver = new_caregiver_with_profile(database_url)
    before = caregiver_rows(database_url, caregiver.user_id)
    body = {k: v for k, v in profile_body(**overrides).items() if v is not ...}

    response = app_server.request("PUT", "api/caregivers/me", json=body, headers=caregiver.headers)

    assert_422_at(response, loc)
    assert caregiver_rows(database_url, caregiver.user_id) == before


def test_bad_first_profile_creates_nothing(app_server, database_url):
    caregiver = new_caregiver_without_profile(database_url)
    response = app_server.request(
        "PUT",
        "api/caregivers/me",
        json=profile_body(hourly_rate=0, certifications=["pilot"]),
        headers=caregiver.headers,
    )
    body = assert_problem(response, 422, "validation_error")
    assert {tuple(e["loc"]) for e in body["errors"]} == {
        ("body", "hourly_rate"),
        ("body", "certifications", 0),
    }
    assert caregiver_rows(database_url, caregiver.user_id) == {"profile": None}


def test_profile_and_sets_roll_back_together(app_env, database_url):
    """A set that fails in the database after the profile row was updated undoes the update."""
    caregiver = new_caregiver_with_profile(database_url)
    before = caregiver_rows(database_url, caregiver.user_id)
    actor = Actor(Principal(caregiver.user_id, Role.CAREGIVER, caregiver.email, "x"), "req-1")
    # Built without validation, so the bad code reaches the database's CHECK.
    body = CaregiverProfileIn.model_construct(
        **{**profile_body(hourly_rate=99_999), "certifications": ["nurse", "pilot"]}
    )

    with pytest.raises(ValidationFailedError) as refused, UnitOfWork(actor) as uow:
        service.put_profile(uow, body)

    assert refused.value.errors[0].loc == ("body", "certifications")
    assert caregiver_rows(database_url, caregiver.user_id) == before


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_who_may_put_their_profile(app_server, parties: Parties, database_url, who):
    response = app_server.request(
        "PUT", "api/caregivers/me", json=profile_body(), headers=parties.headers(who)
    )
    assert response.status_code == OWN_ENDPOINT_STATUS[who], response.text
    if response.status_code == 200:
        assert response.json()["caregiver_id"] == getattr(parties, who).caregiver_id
    else:
        with cursor(database_url) as cur:  # no profile was made for a guardian or an admin
            cur.execute(
                "SELECT count(*) AS n FROM caregivers WHERE user_id IN (%s, %s, %s)",
                (parties.owner.user_id, parties.other_guardian.user_id, parties.admin.user_id),
            )
            assert cur.fetchone()["n"] == 0


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_who_may_get_their_profile(app_server, parties: Parties, who):
    response = app_server.get("api/caregivers/me", headers=parties.headers(who))
    assert response.status_code == OWN_ENDPOINT_STATUS[who], response.text
    if response.status_code == 200:
        assert response.json()["caregiver_id"] == getattr(parties, who).caregiver_id


# -- GET /api/caregivers/{caregiver_id} --------------------------------------------------------


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_every_signed_in_party_reads_the_public_card(
    app_server, parties: Parties, database_url, who
):
    caregiver = parties.assigned_caregiver
    with cursor(database_url) as cur:
        add_caregiver_specialties(cur, caregiver, ["stroke", "bedridden_care"])
        cur.execute(
            "UPDATE caregivers SET bio = '성실합니다', birth_date = '1970-03-01',"
            " avg_rating = 4.25, total_reviews = 4 WHERE caregiver_id = %s",
            (caregiver.caregiver_id,),
        )

    response = app_server.get(
        f"api/caregivers/{caregiver.caregiver_id}", headers=parties.headers(who)
    )

    assert response.status_code == CARD_STATUS[who], response.text
    if response.status_code != 200:
        return
    card = response.json()
    assert set(card) == CARD_KEYS
    assert not PRIVATE_KEYS & set(card)
    assert card == {
        "caregiver_id": caregiver.caregiver_id,
        "name": "테스트",
        "experience_years": 5,
        "certifications": ["caregiver_1"],
        "specialties": ["bedridden_care", "stroke"],
        "service_region": "SEOUL_MAPO",
        "has_vehicle": False,
        "hourly_rate": 15000,
        "avg_rating": 4.25,
        "total_reviews": 4,
        "bio": "성실합니다",
    }
    assert "010-" not in response.text
    assert caregiver.email not in response.text


def test_unknown_or_closed_caregiver_card_is_404(app_server, parties: Parties, database_url):
    headers = parties.owner.headers
    for missing in (9_000_000_000, 2**63 - 1, 0):
        assert_problem(
            app_server.get(f"api/caregivers/{missing}", headers=headers), 404, "not_found"
        )
    closed = new_caregiver_with_profile(database_url)
    with cursor(database_url) as cur:
        cur.execute("UPDATE users SET deleted_at = now() WHERE user_id = %s", (closed.user_id,))
    assert_problem(
        app_server.get(f"api/caregivers/{closed.caregiver_id}", headers=headers), 404, "not_found"
    )


def test_caregiver_cards_reads_many_in_one_query(database_url):
    first = new_caregiver_with_profile(database_url, certifications=("nurse", "caregiver_2"))
    second = new_caregiver_with_profile(database_url, region="JEJU_SEOGWIPO")
    assert first.caregiver_id is not None
    assert second.caregiver_id is not None
    first_id, second_id = first.caregiver_id, second.caregiver_id

    class CountingCursor:
        def __init__(self, cur: Any) -> None:
            self.cur, self.statements = cur, 0

        def execute(self, *args: Any) -> None:
            self.statements += 1
            self.cur.execute(*args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cur, name)

    with cursor(database_url) as cur:
        counting = CountingCursor(cur)
        as_cursor = cast(Cursor, counting)  # a stand-in that counts what it runs
        cards = repository.caregiver_cards(
            as_cursor, [first_id, second_id, 9_000_000_000, first_id]
        )
        assert counting.statements == 1
        assert repository.caregiver_cards(as_cursor, []) == {}
        assert counting.statements == 1
        single = repository.caregiver_card(cur, second_id)
        assert repository.caregiver_card(cur, 9_000_000_000) is None

    assert set(cards) == {first_id, second_id}
    assert cards[first_id]["certifications"] == ["caregiver_2", "nurse"]
    assert cards[second_id] == single
    assert single["service_region"] == "JEJU_SEOGWIPO"
    assert set(single) == CARD_KEYS


# -- PUT /api/caregivers/me/availability -------------------------------------------------------


def test_put_availability_replaces_the_set(app_server, database_url):
    caregiver = new_caregiver_with_profile(database_url)
    with cursor(database_url) as cur:
        add_caregiver_availability(cur, caregiver, [("sun", "06:00", "08:00")])
    body = slots_body(
        ("fri", "14:00", "18:00"),
        ("mon", "12:00", "15:00"),
        ("mon", "09:00", "12:00"),  # touching is not overlapping
        ("wed", "00:00", "23:59"),
    )

    response = app_server.request(
        "PUT", "api/caregivers/me/availability", json=body, headers=caregiver.headers
    )

    assert response.status_code == 200, response.text
    expected = [
        {"day": "mon", "start": "09:00", "end": "12:00"},
        {"day": "mon", "start": "12:00", "end": "15:00"},
        {"day": "wed", "start": "00:00", "end": "23:59"},
        {"day": "fri", "start": "14:00", "end": "18:00"},
    ]
    assert response.json() == {"slots": expected}
    me = app_server.get("api/caregivers/me", headers=caregiver.headers).json()
    assert me["availability"] == expected
    assert len(caregiver_rows(database_url, caregiver.user_id)["caregiver_availability"]) == 4

    cleared = app_server.request(
        "PUT", "api/caregivers/me/availability", json={"slots": []}, headers=caregiver.headers
    )
    assert cleared.json() == {"slots": []}
    assert caregiver_rows(database_url, caregiver.user_id)["caregiver_availability"] == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (slots_body(("mon", "09:00", "12:00"), ("mon", "12:00", "09:00")), ["body", "slots", 1]),
        (slots_body(("tue", "10:00", "10:00")), ["body", "slots", 0]),
        (
            slots_body(
                ("mon", "09:00", "12:00"), ("tue", "09:00", "12:00"), ("mon", "11:00", "13:00")
            ),
            ["body", "slots", 2],
        ),
        (
            slots_body(
                ("wed", "09:00", "18:00"), ("thu", "09:00", "10:00"), ("wed", "10:00", "11:00")
            ),
            ["body", "slots", 2],
        ),
        (slots_body(("fri", "09:00", "12:00"), ("fri", "09:00", "12:00")), ["body", "slots", 1]),
        (slots_body(("mon", "9:00", "12:00")), ["body", "slots", 0, "start"]),
        (slots_body(("mon", "09:00", "24:00")), ["body", "slots", 0, "end"]),
        (slots_body(("mon", "09:00", "12:60")), ["body", "slots", 0, "end"]),
        (slots_body(("monday", "09:00", "12:00")), ["body", "slots", 0, "day"]),
        ({"slots": [{"day": "mon", "start": "09:00"}]}, ["body", "slots", 0, "end"]),
        (
            {"slots": [{"day": "mon", "start": "09:00", "end": "10:00", "note": "x"}]},
            ["body", "slots", 0, "note"],
        ),
        (
            slots_body(
                *[
                    (day, f"{h:02d}:00", f"{h:02d}:30")
                    for day in ("mon", "tue", "wed")
                    for h in range(17)
                ]
            ),
            ["body", "slots"],
        ),
        ({}, ["body", "slots"]),
        ({"slots": "mon 09:00-12:00"}, ["body", "slots"]),
    ],
)
def test_bad_availability_is_422_naming_the_slot_and_writes_nothing(
    app_server, database_url, body, loc
):
    caregiver = new_caregiver_with_profile(database_url)
    with cursor(database_url) as cur:
        add_caregiver_availability(cur, caregiver, [("sat", "10:00", "14:00")])
    before = caregiver_rows(database_url, caregiver.user_id)

    response = app_server.request(
        "PUT", "api/caregivers/me/availability", json=body, headers=caregiver.headers
    )

    assert_422_at(response, loc)
    assert caregiver_rows(database_url, caregiver.user_id) == before


def test_overlap_names_every_overlapping_slot(app_server, database_url):
    caregiver = new_caregiver_with_profile(database_url)
    body = slots_body(
        ("mon", "09:00", "12:00"),
        ("mon", "11:00", "13:00"),
        ("tue", "09:00", "12:00"),
        ("mon", "08:00", "09:30"),
    )
    response = app_server.request(
        "PUT", "api/caregivers/me/availability", json=body, headers=caregiver.headers
    )
    errors = assert_problem(response, 422, "validation_error")["errors"]
    assert [e["loc"] for e in errors] == [["body", "slots", 1], ["body", "slots", 3]]
    assert "slot 0" in errors[0]["msg"]


def test_fifty_slots_are_accepted(app_server, database_url):
    caregiver = new_caregiver_with_profile(database_url)
    days = ("mon", "tue", "wed", "thu", "fri")
    slots = [(day, f"{h:02d}:00", f"{h:02d}:30") for day in days for h in range(8, 18)]
    response = app_server.request(
        "PUT", "api/caregivers/me/availability", json=slots_body(*slots), headers=caregiver.headers
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["slots"]) == 50


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_who_may_put_availability(app_server, parties: Parties, who):
    response = app_server.request(
        "PUT",
        "api/caregivers/me/availability",
        json=slots_body(("thu", "09:00", "12:00")),
        headers=parties.headers(who),
    )
    assert response.status_code == OWN_ENDPOINT_STATUS[who], response.text
    if response.status_code == 200:
        assert response.json() == {"slots": [{"day": "thu", "start": "09:00", "end": "12:00"}]}


def test_availability_without_a_profile_is_409_and_writes_nothing(app_server, database_url):
    caregiver = new_caregiver_without_profile(database_url)
    response = app_server.request(
        "PUT",
        "api/caregivers/me/availability",
        json=slots_body(("mon", "09:00", "12:00")),
        headers=caregiver.headers,
    )
    body = assert_problem(response, 409, "conflict")
    assert "create your caregiver profile first" in body["detail"]
    assert caregiver_rows(database_url, caregiver.user_id) == {"profile": None}


# -- PUT /api/caregivers/me/personality --------------------------------------------------------


def test_put_personality_sets_then_replaces_the_axes(app_server, database_url):
    caregiver = new_caregiver_with_profile(database_url)
    first = app_server.request(
        "PUT", "api/caregivers/me/personality", json=personality_body(), headers=caregiver.headers
    )
    assert first.status_code == 200, first.text
    assert {k: v for k, v in first.json().items() if k != "updated_at"} == {
        **personality_body(),
        "source": "manual",
    }

    second = app_server.request(
        "PUT",
        "api/caregivers/me/personality",
        json=personality_body(empathy=0, independence=100),
        headers=caregiver.headers,
    )
    assert second.status_code == 200, second.text
    me = app_server.get("api/caregivers/me", headers=caregiver.headers).json()
    assert me["personality"] == second.json()
    assert (me["personality"]["empathy"], me["personality"]["independence"]) == (0, 100)
    stored = caregiver_rows(database_url, caregiver.user_id)["caregiver_personality"]
    assert [(r["empathy"], r["activity"], r["source"]) for r in stored] == [(0, 40, "manual")]


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"empathy": 101}, ["body", "empathy"]),
        ({"activity": -1}, ["body", "activity"]),
        ({"patience": "50"}, ["body", "patience"]),
        ({"independence": 50.5}, ["body", "independence"]),
        ({"independence": None}, ["body", "independence"]),
        ({"kindness": 50}, ["body", "kindness"]),
        ({"empathy": ...}, ["body", "empathy"]),
    ],
)
def test_bad_personality_is_422_and_writes_nothing(app_server, database_url, overrides, loc):
    caregiver = new_caregiver_with_profile(database_url)
    with cursor(database_url) as cur:
        set_caregiver_personality(cur, caregiver, empathy=33)
    before = caregiver_rows(database_url, caregiver.user_id)
    body = {k: v for k, v in personality_body(**overrides).items() if v is not ...}

    response = app_server.request(
        "PUT", "api/caregivers/me/personality", json=body, headers=caregiver.headers
    )

    assert_422_at(response, loc)
    assert caregiver_rows(database_url, caregiver.user_id) == before


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_who_may_put_personality(app_server, parties: Parties, who):
    response = app_server.request(
        "PUT",
        "api/caregivers/me/personality",
        json=personality_body(),
        headers=parties.headers(who),
    )
    assert response.status_code == OWN_ENDPOINT_STATUS[who], response.text
    if response.status_code == 200:
        assert response.json()["patience"] == 90


def test_personality_without_a_profile_is_409_and_writes_nothing(app_server, database_url):
    caregiver = new_caregiver_without_profile(database_url)
    response = app_server.request(
        "PUT", "api/caregivers/me/personality", json=personality_body(), headers=caregiver.headers
    )
    body = assert_problem(response, 409, "conflict")
    assert "create your caregiver profile first" in body["detail"]
    assert caregiver_rows(database_url, caregiver.user_id) == {"profile": None}


def test_caregiver_endpoints_write_no_audit_events(app_server, database_url):
    """A caregiver's own profile is not patient data: the access log stays out of it."""
    caregiver = new_caregiver_without_profile(database_url)
    headers = caregiver.headers
    app_server.request("PUT", "api/caregivers/me", json=profile_body(), headers=headers)
    app_server.request(
        "PUT",
        "api/caregivers/me/availability",
        json=slots_body(("mon", "09:00", "10:00")),
        headers=headers,
    )
    app_server.request(
        "PUT", "api/caregivers/me/personality", json=personality_body(), headers=headers
    )
    assert app_server.get("api/caregivers/me", headers=headers).status_code == 200
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM audit_events WHERE actor_user_id = %s", (caregiver.user_id,)
        )
        assert cur.fetchone()["n"] == 0
