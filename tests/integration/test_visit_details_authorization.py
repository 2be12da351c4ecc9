"""Who may call each route of a visit's details (checklist, medications, corrections) and of
incidents: every route against every party of `parties`.

- read (READ_CARE): the owner, the caregiver of the active matching, operators; other guardians
  and unassigned caregivers get 404 (as for an id that does not exist).
- record (RECORD_VISIT: tasks, medications, proposing a correction): the visit's own caregiver;
  guardians and operators 403 (the role never may), an unassigned caregiver 404.
- decide a correction (APPROVE_CORRECTION): the owner and operators; caregivers 403.
- report an incident: the active caregiver (RECORD_VISIT) or an operator (REVIEW_VISITS);
  guardians 403. Follow up (REVIEW_VISITS): operators only.
A refused call changes nothing and leaves no audit event; an allowed one leaves its events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.factories import PARTY_NAMES, Parties, cursor, make_caregiver, make_matching
from tests.integration.visit_details_data import (
    Day,
    iso,
    make_day,
    now,
    past_visit,
    stored,
    visit_row,
)

pytestmark = pytest.mark.integration

READ = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 404,
    "assigned_caregiver": 200,
    "owner": 200,
    "admin": 200,
}


def record(success: int) -> dict[str, int]:
    return {
        "anonymous": 401,
        "other_guardian": 403,
        "unassigned_caregiver": 404,
        "assigned_caregiver": success,
        "owner": 403,
        "admin": 403,
    }


DECIDE = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 403,
    "assigned_caregiver": 403,
    "owner": 200,
    "admin": 200,
}
REPORT = {
    "anonymous": 401,
    "other_guardian": 403,
    "unassigned_caregiver": 404,
    "assigned_caregiver": 201,
    "owner": 403,
    "admin": 201,
}
FOLLOW_UP = {
    "anonymous": 401,
    "other_guardian": 403,
    "unassigned_caregiver": 403,
    "assigned_caregiver": 403,
    "owner": 403,
    "admin": 200,
}


@dataclass
class World:
    """One patient's visit details to act on (ids by the placeholders of `Endpoint.path`)."""

    day: Day
    locked_visit: int
    correction_id: int
    incident_id: int

    def ids(self) -> dict[str, int]:
        return {
            "p": self.day.parties.patient_id,
            "v": self.day.visit_id,
            "l": self.day.vital_log_id,
            "m": self.day.medication_ids[0],
            "lv": self.locked_visit,
            "c": self.correction_id,
            "i": self.incident_id,
        }


def make_world(database_url: str, parties: Parties) -> World:
    day = make_day(database_url, parties)
    locked = past_visit(database_url, parties, days_ago=2)
    pending_on = past_visit(database_url, parties, days_ago=3)
    with cursor(database_url) as cur:
        cur.execute(
            "INSERT INTO visit_corrections (visit_id, patient_id, proposed_by, reason_code,"
            " proposed_check_out_at)"
            " SELECT visit_id, patient_id, %s, 'wrong_time', check_out_at + interval '10 minutes'"
            " FROM visits WHERE visit_id = %s RETURNING correction_id",
            (parties.assigned_caregiver.user_id, pending_on),
        )
        correction_id = cur.fetchone()["correction_id"]
        cur.execute(
            "INSERT INTO incidents (patient_id, reported_by, kind, severity, occurred_at,"
            " description) VALUES (%s, %s, 'fall', 'low', now(), '넘어지심')"
            " RETURNING incident_id",
            (parties.patient_id, parties.assigned_caregiver.user_id),
        )
        incident_id = cur.fetchone()["incident_id"]
    return World(day, locked, correction_id, incident_id)


def correction_body(world: World, database_url: str) -> dict[str, Any]:
    out = visit_row(database_url, world.locked_visit)["check_out_at"] + timedelta(minutes=5)
    return {"reason_code": "wrong_time", "check_out_at": iso(out)}


def incident_body(world: World, database_url: str) -> dict[str, Any]:
    return {
        "kind": "fall",
        "severity": "moderate",
        "occurred_at": iso(now() - timedelta(minutes=3)),
        "description": "침대에서 내려오다 넘어지심",
    }


Body = dict[str, Any] | Callable[[World, str], dict[str, Any]] | None


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    expected: dict[str, int]
    audited: frozenset[tuple[str, str]]
    body: Body = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def body_for(self, world: World, database_url: str) -> dict[str, Any] | None:
        return self.body(world, database_url) if callable(self.body) else self.body


def events(*pairs: tuple[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(pairs)


ENDPOINTS = [
    Endpoint("GET", "api/visits/{v}/tasks", READ, events(("view", "visit_task"))),
    Endpoint(
        "PUT",
        "api/visits/{v}/tasks/{l}",
        record(200),
        events(("update", "visit_task")),
        {"outcome": "done"},
    ),
    Endpoint(
        "GET", "api/visits/{v}/medications", READ, events(("view", "medication_administration"))
    ),
    Endpoint(
        "PUT",
        "api/visits/{v}/medications/{m}",
        record(200),
        events(("update", "medication_administration")),
        {"outcome": "missed", "note": "외출 중"},
    ),
    Endpoint(
        "GET",
        "api/patients/{p}/medication-administrations",
        READ,
        events(("view", "medication_administration")),
    ),
    Endpoint(
        "POST",
        "api/visits/{lv}/corrections",
        record(201),
        events(("create", "visit_correction")),
        correction_body,
    ),
    Endpoint(
        "GET", "api/patients/{p}/visit-corrections", READ, events(("view", "visit_correction"))
    ),
    Endpoint(
        "POST",
        "api/visit-corrections/{c}/approve",
        DECIDE,
        events(("update", "visit_correction"), ("update", "visit")),
        {},
    ),
    Endpoint(
        "POST",
        "api/visit-corrections/{c}/reject",
        DECIDE,
        events(("update", "visit_correction")),
        {"note": "기록과 다름"},
    ),
    Endpoint(
        "POST", "api/patients/{p}/incidents", REPORT, events(("create", "incident")), incident_body
    ),
    Endpoint("GET", "api/patients/{p}/incidents", READ, events(("view", "incident"))),
    Endpoint("GET", "api/incidents/{i}", READ, events(("view", "incident"))),
    Endpoint(
        "PATCH",
        "api/incidents/{i}",
        FOLLOW_UP,
        events(("update", "incident")),
        {"follow_up_status": "resolved"},
    ),
]


def actor_events(database_url: str, patient_id: int, user_id: int | None) -> list[tuple]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_type, actor_role FROM audit_events"
            " WHERE patient_id = %s AND actor_user_id IS NOT DISTINCT FROM %s ORDER BY event_id",
            (patient_id, user_id),
        )
        return [tuple(row.values()) for row in cur.fetchall()]


@pytest.mark.parametrize("who", PARTY_NAMES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_party_gets_what_the_rules_say(
    app_server, database_url, parties: Parties, endpoint: Endpoint, who: str
):
    world = make_world(database_url, parties)
    path = endpoint.path.format(**world.ids())
    before = stored(database_url, parties.patient_id)

    response = app_server.request(
        endpoint.method,
        path,
        headers=parties.headers(who),
        json=endpoint.body_for(world, database_url),
    )

    status = endpoint.expected[who]
    assert response.status_code == status, response.text
    user = None if who == "anonymous" else getattr(parties, who)
    trail = actor_events(database_url, parties.patient_id, user and user.user_id)
    if status >= 400:
        assert response.json()["code"] == {401: "unauthorized", 403: "forbidden"}.get(
            status, "not_found"
        )
        assert stored(database_url, parties.patient_id) == before
        assert trail == []
    else:
        assert user is not None
        assert trail
        assert {(action, kind) for action, kind, _ in trail} == endpoint.audited
        assert {role for _, _, role in trail} == {user.role}
        if endpoint.method == "GET":
            assert stored(database_url, parties.patient_id) == before
        else:
            assert stored(database_url, parties.patient_id) != before


def test_a_missing_id_answers_like_a_foreign_one(app_server, database_url, parties: Parties):
    """Out of scope and nonexistent are indistinguishable, for every route and role."""
    world = make_world(database_url, parties)
    missing = 987654321
    for endpoint in ENDPOINTS:
        path = endpoint.path.format(**dict.fromkeys(world.ids(), missing))
        for who in ("owner", "admin", "assigned_caregiver"):
            response = app_server.request(
                endpoint.method,
                path,
                headers=parties.headers(who),
                json=endpoint.body_for(world, database_url),
            )
            expected = 403 if endpoint.expected[who] == 403 else 404
            assert response.status_code == expected, (str(endpoint), who, response.text)


def test_another_caregiver_of_the_patient_cannot_record_this_visit(
    app_server, database_url, parties: Parties
):
    """A second active caregiver of the same patient reads the visit but records nothing."""
    world = make_world(database_url, parties)
    with cursor(database_url) as cur:
        colleague = make_caregiver(cur)
        make_matching(cur, parties.patient_id, colleague, status="active")
    before = stored(database_url, parties.patient_id)
    ids = world.ids()
    for endpoint in ENDPOINTS:
        if endpoint.expected["assigned_caregiver"] >= 400:
            continue
        response = app_server.request(
            endpoint.method,
            endpoint.path.format(**ids),
            headers=colleague.headers,
            json=endpoint.body_for(world, database_url),
        )
        records_the_visit = "{v}" in endpoint.path or "{lv}" in endpoint.path
        if records_the_visit and endpoint.method != "GET":
            assert response.status_code == 404, (str(endpoint), response.text)
        else:
            assert response.status_code < 300, (str(endpoint), response.text)
    changed = stored(database_url, parties.patient_id)
    assert changed != before  # the colleague's incident report was written
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM visit_tasks WHERE visit_id = %s", (world.day.visit_id,)
        )
        assert cur.fetchone()["n"] == 0


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_roles_that_may_never_record_are_refused_before_their_input_is_read(
    app_server, database_url, parties: Parties, who
):
    """403, not 422, for a malformed body: the caller learns nothing about the inputs."""
    world = make_world(database_url, parties)
    ids = world.ids()
    for endpoint in ENDPOINTS:
        if endpoint.expected[who] != 403:
            continue
        response = app_server.request(
            endpoint.method,
            endpoint.path.format(**ids),
            headers=parties.headers(who),
            data=b'{"broken": ',
        )
        assert response.status_code == 403, (str(endpoint), response.text)
        assert response.json()["code"] == "forbidden"
