"""Reviews over HTTP on the served app: who may review, when, once; exact caregiver ratings even
when reviews race; and a caregiver's public reviews."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import requests

from shared.errors import ConflictError
from shared.reviews import repository as reviews_repository
from shared.reviews.repository import ALREADY_REVIEWED
from shared.unit_of_work import UnitOfWork
from tests.factories import (
    PARTY_NAMES,
    Parties,
    TestUser,
    cursor,
    make_caregiver,
    make_guardian,
    make_matching,
    make_patient,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


@dataclass
class Care:
    """A completed matching: a guardian's patient cared for by a caregiver."""

    guardian: TestUser
    caregiver: TestUser
    patient_id: int
    matching_id: int


def make_care(
    database_url: str,
    *,
    status: str = "completed",
    caregiver: TestUser | None = None,
    guardian_name: str = "김보호",
) -> Care:
    with cursor(database_url) as cur:
        guardian = make_guardian(cur, name=guardian_name)
        patient_id = make_patient(cur, guardian)
        caregiver = caregiver or make_caregiver(cur, name="박간병")
        matching_id = make_matching(cur, patient_id, caregiver, status=status)
    return Care(guardian, caregiver, patient_id, matching_id)


Headers = dict[str, str]
Body = dict[str, Any]


def post_review(app_server, matching_id: int, headers: Headers, body: Body) -> requests.Response:
    response: requests.Response = app_server.request(
        "POST", f"api/matching-results/{matching_id}/reviews", json=body, headers=headers
    )
    return response


def rating_of(database_url: str, caregiver_id: int | None) -> tuple[Decimal, int]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT avg_rating, total_reviews FROM caregivers WHERE caregiver_id = %s",
            (caregiver_id,),
        )
        row = cur.fetchone()
    return row["avg_rating"], row["total_reviews"]


def reviews_of(database_url: str, matching_id: int) -> list[dict[str, Any]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT reviewer_id, reviewer_role, rating, comment FROM reviews"
            " WHERE matching_id = %s ORDER BY review_id",
            (matching_id,),
        )
        rows: list[dict[str, Any]] = cur.fetchall()
    return rows


def review_events(database_url: str, patient_id: int) -> list[dict[str, Any]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT actor_user_id, action, resource_type, resource_id FROM audit_events"
            " WHERE patient_id = %s AND resource_type = 'review' ORDER BY event_id",
            (patient_id,),
        )
        rows: list[dict[str, Any]] = cur.fetchall()
    return rows


# -- POST /api/matching-results/{matching_id}/reviews ---------------------------------------------


def test_guardian_review_is_created_rates_the_caregiver_and_is_audited(app_server, database_url):
    care = make_care(database_url)

    response = post_review(
        app_server, care.matching_id, care.guardian.headers, {"rating": 4, "comment": " 친절해요 "}
    )

    assert response.status_code == 201, response.text
    review = response.json()
    assert set(review) == {
        "review_id",
        "matching_id",
        "caregiver_id",
        "reviewer_id",
        "reviewer_role",
        "rating",
        "comment",
        "created_at",
    }
    assert {k: v for k, v in review.items() if k not in ("review_id", "created_at")} == {
        "matching_id": care.matching_id,
        "caregiver_id": care.caregiver.caregiver_id,
        "reviewer_id": care.guardian.user_id,
        "reviewer_role": "guardian",
        "rating": 4,
        "comment": "친절해요",
    }
    assert rating_of(database_url, care.caregiver.caregiver_id) == (Decimal("4.00"), 1)
    assert review_events(database_url, care.patient_id) == [
        {
            "actor_user_id": care.guardian.user_id,
            "action": "create",
            "resource_type": "review",
            "resource_id": str(review["review_id"]),
        }
    ]


def test_caregiver_review_is_created_without_touching_its_own_rating(app_server, database_url):
    care = make_care(database_url)
    response = post_review(app_server, care.matching_id, care.caregiver.headers, {"rating": 2})

    assert response.status_code == 201, response.text
    assert response.json()["reviewer_role"] == "caregiver"
    assert response.json()["comment"] is None
    assert rating_of(database_url, care.caregiver.caregiver_id) == (Decimal("0.00"), 0)
    # The guardian's review of the same matching is a different reviewer: allowed, and counted.
    guardian = post_review(app_server, care.matching_id, care.guardian.headers, {"rating": 5})
    assert guardian.status_code == 201, guardian.text
    assert rating_of(database_url, care.caregiver.caregiver_id) == (Decimal("5.00"), 1)
    assert [r["reviewer_role"] for r in reviews_of(database_url, care.matching_id)] == [
        "caregiver",
        "guardian",
    ]
    assert len(review_events(database_url, care.patient_id)) == 2


@pytest.mark.parametrize("status", ["recommended", "selected", "active", "declined", "cancelled"])
def test_only_a_completed_matching_can_be_reviewed(app_server, database_url, status):
    care = make_care(database_url, status=status)
    for reviewer in (care.guardian, care.caregiver):
        response = post_review(app_server, care.matching_id, reviewer.headers, {"rating": 5})
        body = assert_problem(response, 409, "conflict")
        assert status in body["detail"]
    assert reviews_of(database_url, care.matching_id) == []
    assert rating_of(database_url, care.caregiver.caregiver_id) == (Decimal("0.00"), 0)
    assert review_events(database_url, care.patient_id) == []


def test_a_second_review_by_the_same_reviewer_is_a_conflict(app_server, database_url):
    care = make_care(database_url)
    for reviewer in (care.guardian, care.caregiver):
        first = post_review(app_server, care.matching_id, reviewer.headers, {"rating": 5})
        assert first.status_code == 201, first.text
        again = post_review(app_server, care.matching_id, reviewer.headers, {"rating": 1})
        assert_problem(again, 409, "conflict")
    assert [r["rating"] for r in reviews_of(database_url, care.matching_id)] == [5, 5]
    assert rating_of(database_url, care.caregiver.caregiver_id) == (Decimal("5.00"), 1)


def test_the_unique_constraint_says_already_reviewed(app_env, database_url):
    """Should a duplicate ever pass the matching lock, the registered constraint answers the
    same 409 as the check (shared.integrity), and the unit of work rolls back."""
    care = make_care(database_url)
    assert care.caregiver.caregiver_id is not None
    caregiver_id = care.caregiver.caregiver_id

    def review_twice(uow: UnitOfWork) -> None:
        for _ in range(2):
            reviews_repository.insert_review(
                uow.cursor,
                matching_id=care.matching_id,
                caregiver_id=caregiver_id,
                reviewer_id=care.guardian.user_id,
                reviewer_role="guardian",
                rating=4,
                comment=None,
            )

    with pytest.raises(ConflictError) as refused, UnitOfWork.for_job() as uow:
        review_twice(uow)
    assert refused.value.detail == ALREADY_REVIEWED
    assert reviews_of(database_url, care.matching_id) == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"rating": 0}, [["body", "rating"]]),
        ({"rating": 6}, [["body", "rating"]]),
        ({"rating": 4.5}, [["body", "rating"]]),
        ({"rating": "5"}, [["body", "rating"]]),
        ({"rating": True}, [["body", "rating"]]),
        ({}, [["body", "rating"]]),
        ({"rating": 3, "comment": "가" * 2001}, [["body", "comment"]]),
        ({"rating": 9, "comment": 7}, [["body", "rating"], ["body", "comment"]]),
        ({"rating": 3, "stars": 3}, [["body", "stars"]]),
    ],
)
def test_invalid_reviews_are_422_naming_each_field_and_write_nothing(
    app_server, database_url, body, fields
):
    care = make_care(database_url)
    response = post_review(app_server, care.matching_id, care.guardian.headers, body)

    problem = assert_problem(response, 422, "validation_error")
    assert sorted(e["loc"] for e in problem["errors"]) == sorted(fields)
    assert reviews_of(database_url, care.matching_id) == []
    assert rating_of(database_url, care.caregiver.caregiver_id) == (Decimal("0.00"), 0)
    assert review_events(database_url, care.patient_id) == []


def test_a_comment_of_exactly_2000_characters_is_accepted(app_server, database_url):
    care = make_care(database_url)
    body = {"rating": 3, "comment": "가" * 2000}
    response = post_review(app_server, care.matching_id, care.guardian.headers, body)
    assert response.status_code == 201, response.text
    assert len(response.json()["comment"]) == 2000


REVIEW_STATUS = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 404,
    "assigned_caregiver": 201,
    "owner": 201,
    "admin": 403,
}


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_review_authorization_matrix(app_server, database_url, parties: Parties, who):
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE matching_results SET status = 'completed' WHERE matching_id = %s",
            (parties.matching_id,),
        )
    response = post_review(app_server, parties.matching_id, parties.headers(who), {"rating": 4})

    assert response.status_code == REVIEW_STATUS[who], response.text
    written = reviews_of(database_url, parties.matching_id)
    if REVIEW_STATUS[who] == 201:
        assert [r["reviewer_id"] for r in written] == [getattr(parties, who).user_id]
        assert len(review_events(database_url, parties.patient_id)) == 1
    else:
        assert written == []
        assert review_events(database_url, parties.patient_id) == []


@pytest.mark.parametrize("who", ["other_guardian", "unassigned_caregiver", "offered_caregiver"])
def test_outsiders_learn_nothing_about_a_matching_they_cannot_see(
    app_server, parties: Parties, who
):
    """Not completed and not theirs: 404 (as for a missing id), never the 409 of the parties."""
    outsider = getattr(parties, who).headers
    theirs = post_review(app_server, parties.matching_id, outsider, {"rating": 4})
    missing = post_review(app_server, 2_000_000_000, outsider, {"rating": 4})
    assert (
        assert_problem(theirs, 404, "not_found")["detail"]
        == assert_problem(missing, 404, "not_found")["detail"]
    )
    assert "no route" not in missing.json()["detail"]


def test_unknown_matching_is_404_for_parties_and_403_for_operators(app_server, parties: Parties):
    for who in ("owner", "assigned_caregiver"):
        response = post_review(app_server, 2_000_000_000, parties.headers(who), {"rating": 4})
        assert "no route" not in assert_problem(response, 404, "not_found")["detail"]
    admin = post_review(app_server, 2_000_000_000, parties.headers("admin"), {"rating": 4})
    assert_problem(admin, 403, "forbidden")
    # Refused before its input is read: an invalid body is still 403, not 422.
    invalid = post_review(app_server, parties.matching_id, parties.headers("admin"), {"rating": 0})
    assert_problem(invalid, 403, "forbidden")


# -- races ----------------------------------------------------------------------------------------


def post_all_at_once(app_server, requests_to_send: list[tuple[int, Headers, Body]]) -> list[int]:
    """Post every (matching_id, headers, body) from its own thread, released together."""
    barrier = threading.Barrier(len(requests_to_send))
    statuses: list[int] = [0] * len(requests_to_send)

    def send(index: int, matching_id: int, headers: Headers, body: Body) -> None:
        barrier.wait()
        statuses[index] = post_review(app_server, matching_id, headers, body).status_code

    threads = [
        threading.Thread(target=send, args=(i, *request))
        for i, request in enumerate(requests_to_send)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_two_racing_reviews_by_one_guardian_land_once(app_server, database_url):
    for _round in range(3):
        care = make_care(database_url)
        statuses = post_all_at_once(
            app_server,
            [
                (care.matching_id, care.guardian.headers, {"rating": 5}),
                (care.matching_id, care.guardian.headers, {"rating": 1}),
            ],
        )
        assert sorted(statuses) == [201, 409]
        written = reviews_of(database_url, care.matching_id)
        assert len(written) == 1
        assert rating_of(database_url, care.caregiver.caregiver_id) == (
            Decimal(written[0]["rating"]).quantize(Decimal("0.01")),
            1,
        )


def test_the_rating_stays_exact_when_many_guardians_review_at_once(app_server, database_url):
    with cursor(database_url) as cur:
        caregiver = make_caregiver(cur, name="박간병")
    ratings = [5, 4, 4, 3, 5, 2, 1]
    cares = [make_care(database_url, caregiver=caregiver) for _ in ratings]
    statuses = post_all_at_once(
        app_server,
        [
            *[
                (care.matching_id, care.guardian.headers, {"rating": rating})
                for care, rating in zip(cares, ratings, strict=True)
            ],
            # The caregiver's own reviews race too, and must not count.
            *[(care.matching_id, caregiver.headers, {"rating": 1}) for care in cares[:3]],
        ],
    )

    assert statuses == [201] * (len(ratings) + 3)
    expected = (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.01"))
    assert rating_of(database_url, caregiver.caregiver_id) == (expected, len(ratings))
    listed = app_server.get(
        f"api/caregivers/{caregiver.caregiver_id}/reviews", headers=cares[0].guardian.headers
    ).json()
    assert listed["total"] == len(ratings)


# -- GET /api/caregivers/{caregiver_id}/reviews ---------------------------------------------------


def test_public_reviews_are_the_guardians_newest_first_with_masked_names(app_server, database_url):
    with cursor(database_url) as cur:
        caregiver = make_caregiver(cur, name="박간병")
    first = make_care(database_url, caregiver=caregiver, guardian_name="김보호")
    second = make_care(database_url, caregiver=caregiver, guardian_name="이영")
    for care, rating, comment in ((first, 5, "최고예요"), (second, 3, None)):
        body = {"rating": rating, **({"comment": comment} if comment else {})}
        assert post_review(app_server, care.matching_id, care.guardian.headers, body).ok
    # The caregiver's review of the family is not part of its public reputation.
    assert post_review(app_server, first.matching_id, caregiver.headers, {"rating": 1}).ok

    response = app_server.get(
        f"api/caregivers/{caregiver.caregiver_id}/reviews", headers=first.guardian.headers
    )

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 2
    assert [
        {k: v for k, v in item.items() if k not in ("review_id", "created_at")}
        for item in page["items"]
    ] == [
        {"reviewer_role": "guardian", "reviewer_name": "이*", "rating": 3, "comment": None},
        {"reviewer_role": "guardian", "reviewer_name": "김**", "rating": 5, "comment": "최고예요"},
    ]
    assert "reviewer_id" not in page["items"][0]
    assert "김보호" not in response.text

    paged = app_server.get(
        f"api/caregivers/{caregiver.caregiver_id}/reviews",
        params={"limit": 1, "offset": 1},
        headers=first.guardian.headers,
    ).json()
    assert paged["total"] == 2
    assert [item["rating"] for item in paged["items"]] == [5]


def test_a_caregiver_without_reviews_has_an_empty_page(app_server, parties: Parties):
    response = app_server.get(
        f"api/caregivers/{parties.unassigned_caregiver.caregiver_id}/reviews",
        headers=parties.owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "total": 0}


def test_unknown_caregiver_reviews_are_404(app_server, parties: Parties):
    response = app_server.get("api/caregivers/2000000000/reviews", headers=parties.owner.headers)
    assert "no caregiver" in assert_problem(response, 404, "not_found")["detail"].lower()


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"offset": "-1"}, "offset")],
)
def test_bad_paging_of_public_reviews_is_422(app_server, parties: Parties, params, field):
    response = app_server.get(
        f"api/caregivers/{parties.assigned_caregiver.caregiver_id}/reviews",
        params=params,
        headers=parties.owner.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert [e["loc"] for e in problem["errors"]] == [["query", field]]


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_public_reviews_authorization_matrix(app_server, parties: Parties, who):
    response = app_server.get(
        f"api/caregivers/{parties.assigned_caregiver.caregiver_id}/reviews",
        headers=parties.headers(who),
    )
    assert response.status_code == (401 if who == "anonymous" else 200), response.text
