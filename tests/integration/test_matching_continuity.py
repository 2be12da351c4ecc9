"""Continuity in matching: the patient's history with each caregiver (shared.matching.history)
and "a request that extends an active relationship offers that caregiver first", through the
served app. Each test's world is in Jeju at a ten-minute slot of its own (late hours, apart from
tests/integration/test_matching_api.py's), so other tests' caregivers are filtered out."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.dates import korea_today
from shared.matching.history import care_history
from tests.factories import (
    TestUser,
    add_caregiver_availability,
    add_caregiver_specialties,
    cursor,
    make_caregiver,
    make_guardian,
    make_matching,
    make_patient,
    make_schedule,
    make_visit,
)

pytestmark = pytest.mark.integration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_slots = itertools.count(7 * 20)  # from 20:10 on
REASON_MARK = "먼저 추천"


@dataclass
class World:
    guardian: TestUser
    patient_id: int
    caregivers: list[TestUser]
    day: str
    hour: int

    def body(self, **overrides) -> dict:
        body = {
            "care_type": "caregiver",
            "days": [self.day],
            "time_slots": [{"start": f"{self.hour:02d}:10", "end": f"{self.hour:02d}:20"}],
            "start_date": (korea_today() + timedelta(days=7)).isoformat(),
            "top_k": 3,
        }
        return body | overrides


@pytest.fixture
def world(database_url: str) -> World:
    """A dementia patient in Jeju and five caregivers free at the world's slot; the first is the
    least experienced, lowest rated and dearest, so the scorer alone never puts it first."""
    n = next(_slots)
    day, hour = DAYS[n % 7], n // 7
    made = []
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian, region_code="JEJU_SEOGWIPO")
        cur.execute(
            "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, 'dementia')",
            (patient_id,),
        )
        for i in range(5):
            user = make_caregiver(
                cur,
                region="JEJU_JEJU",
                experience_years=1 if i == 0 else 10 + i,
                hourly_rate=19000 if i == 0 else 13000,
            )
            add_caregiver_availability(cur, user, [(day, f"{hour:02d}:05", f"{hour:02d}:25")])
            add_caregiver_specialties(cur, user, [] if i == 0 else ["dementia"])
            cur.execute(
                "UPDATE caregivers SET avg_rating = %s, total_reviews = %s WHERE caregiver_id = %s",
                (3.0 if i == 0 else 4.8, 1 if i == 0 else 10, user.caregiver_id),
            )
            made.append(user)
    return World(guardian, patient_id, made, day, hour)


def completed_visits(database_url: str, world: World, caregiver: TestUser, count: int) -> None:
    with cursor(database_url) as cur:
        for i in range(count):
            start = datetime(2026, 11, 2 + i, 1, tzinfo=UTC)
            schedule_id = make_schedule(cur, world.patient_id, start.date())
            make_visit(
                cur,
                schedule_id,
                caregiver,
                planned_start=start,
                check_in_at=start,
                check_out_at=start + timedelta(hours=2),
            )


def ask(app_server, world: World, **overrides):
    response = app_server.request(
        "POST",
        f"api/patients/{world.patient_id}/matching-requests",
        json=world.body(**overrides),
        headers=world.guardian.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["results"]


def ids(results: list[dict]) -> list[int]:
    return [r["caregiver"]["caregiver_id"] for r in results]


def test_without_a_relationship_the_scores_decide(app_server, world: World) -> None:
    results = ask(app_server, world)

    assert world.caregivers[0].caregiver_id not in ids(results)
    assert not any(REASON_MARK in reason for r in results for reason in r["reasons"])
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_a_request_extending_an_active_relationship_offers_that_caregiver_first(
    app_server, database_url: str, world: World
) -> None:
    current = world.caregivers[0]
    with cursor(database_url) as cur:
        make_matching(cur, world.patient_id, current, status="active")
    completed_visits(database_url, world, current, 4)

    results = ask(app_server, world)

    assert ids(results)[0] == current.caregiver_id
    assert len(results) == 3
    first = results[0]
    assert first["reasons"][0] == "지금 어르신을 돌보고 있는 요양보호사라 먼저 추천 (방문 4회)"
    assert len(first["reasons"]) <= 3
    # The others follow by score; the caregiver's own score is the scorer's, not inflated.
    rest = [r["score"] for r in results[1:]]
    assert rest == sorted(rest, reverse=True)
    assert first["score"] < rest[0]


def test_a_recently_completed_relationship_counts_an_old_one_does_not(
    app_server, database_url: str, world: World
) -> None:
    recent, old = world.caregivers[0], world.caregivers[1]
    with cursor(database_url) as cur:
        make_matching(cur, world.patient_id, recent, status="completed")
        old_matching = make_matching(cur, world.patient_id, old, status="completed")
        cur.execute(
            "UPDATE matching_results SET status_changed_at = now() - interval '60 days'"
            " WHERE matching_id = %s",
            (old_matching,),
        )

    results = ask(app_server, world, top_k=5)

    assert ids(results)[0] == recent.caregiver_id
    assert results[0]["reasons"][0] == "지금 어르신을 돌보고 있는 요양보호사라 먼저 추천"
    old_result = next(r for r in results if r["caregiver"]["caregiver_id"] == old.caregiver_id)
    assert not any(REASON_MARK in reason for reason in old_result["reasons"])


def test_a_caregiver_who_fails_the_new_requests_filters_is_not_offered(
    app_server, database_url: str, world: World
) -> None:
    current = world.caregivers[0]  # 19,000 won an hour
    with cursor(database_url) as cur:
        make_matching(cur, world.patient_id, current, status="active")

    results = ask(app_server, world, max_hourly_rate=15000)

    assert current.caregiver_id not in ids(results)
    assert not any(REASON_MARK in reason for r in results for reason in r["reasons"])


def test_the_history_of_each_candidate(app_env, database_url: str, world: World) -> None:
    served, rated, stranger = world.caregivers[1], world.caregivers[2], world.caregivers[3]
    with cursor(database_url) as cur:
        make_matching(cur, world.patient_id, served, status="active")
    completed_visits(database_url, world, served, 3)
    with cursor(database_url) as cur:
        # Two completed matchings long ago, each reviewed: the newer review is the one that counts.
        for rating, age in ((2, "2 days"), (5, "1 hour")):
            matching_id = make_matching(cur, world.patient_id, rated, status="completed")
            cur.execute(
                "UPDATE matching_results SET status_changed_at = now() - interval '90 days'"
                " WHERE matching_id = %s",
                (matching_id,),
            )
            cur.execute(
                "INSERT INTO reviews (matching_id, caregiver_id, reviewer_id, reviewer_role,"
                " rating, created_at)"
                " VALUES (%s, %s, %s, 'guardian', %s, now() - %s::interval)",
                (matching_id, rated.caregiver_id, world.guardian.user_id, rating, age),
            )
        order = np.array([stranger.caregiver_id, rated.caregiver_id, served.caregiver_id])
        history = care_history(cur, world.patient_id, order)

    assert list(history.completed_visits) == [0, 0, 3]
    assert np.isnan(history.guardian_rating[0])
    assert history.guardian_rating[1] == 5.0
    assert np.isnan(history.guardian_rating[2])
    assert list(history.continuing) == [False, False, True]
