"""Who may call each visit endpoint: every route against every party, plus a second caregiver
with an active matching with the same patient who does not serve the visit.

Reading visits (READ_CARE): the owner, the patient's active caregivers and operators. Planning
and the home (PLAN_VISITS): the owner and operators. Check-in and check-out (RECORD_VISIT):
only the visit's own caregiver; the other active caregiver gets the same 404 as a stranger.
Cancel: the visit's caregiver, the owner or an operator. Review: operators. A refused call
changes nothing and leaves no audit event; an allowed one leaves its event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.dates import KOREA
from tests.factories import (
    PARTY_NAMES,
    Parties,
    TestUser,
    cursor,
    make_caregiver,
    make_matching,
    make_schedule,
)

pytestmark = pytest.mark.integration

OTHER_ACTIVE = "other_active_caregiver"
WHO = (*PARTY_NAMES, OTHER_ACTIVE)
TAG_UID = "04:AB:CD:EF:{p}"  # {p}: the patient, so each test has its own


def expect(**allowed: int) -> dict[str, int]:
    """Anonymous 401; the named parties as given; everyone else 404 (out of scope)."""
    return {who: allowed.get(who, 404) for who in WHO} | {"anonymous": 401}


READ = expect(owner=200, assigned_caregiver=200, admin=200, other_active_caregiver=200)
#: PLAN_VISITS routes declare roles guardian and admin: caregivers get 403 before any lookup.
PLAN = expect(
    owner=0, admin=0, unassigned_caregiver=403, assigned_caregiver=403, other_active_caregiver=403
)
#: RECORD_VISIT routes are for caregivers only; the other active caregiver is not the visit's.
RECORD = expect(assigned_caregiver=0, owner=403, other_guardian=403, admin=403)
ADMIN = dict.fromkeys(WHO, 403) | {"anonymous": 401, "admin": 0}


def success(table: dict[str, int], status: int) -> dict[str, int]:
    return {who: status if code == 0 else code for who, code in table.items()}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {p}: the patient, {v}: a fresh visit, {t}: one of the home's tags
    expected: dict[str, int]
    body: dict[str, Any] | None = None
    visit: str = "planned"  # the fresh visit's state: planned, in_progress, manual
    audited: tuple[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _plan_body(visit_day_start: datetime, schedule_id: int) -> dict[str, Any]:
    return {
        "schedule_id": schedule_id,
        "planned_start": visit_day_start.isoformat(),
        "planned_end": (visit_day_start + timedelta(hours=1)).isoformat(),
    }


ENDPOINTS = [
    Endpoint("POST", "api/patients/{p}/visits", success(PLAN, 201), body={"plan": True},
             audited=("create", "visit")),
    Endpoint("GET", "api/patients/{p}/visits", READ, audited=("view", "visit")),
    Endpoint("GET", "api/visits/{v}", READ, audited=("view", "visit")),
    Endpoint("POST", "api/visits/{v}/check-in", success(RECORD, 200),
             body={"method": "nfc_tag", "tag_uid": TAG_UID}, audited=("update", "visit")),
    Endpoint("POST", "api/visits/{v}/check-out", success(RECORD, 200),
             body={"method": "nfc_tag", "tag_uid": TAG_UID}, visit="in_progress",
             audited=("update", "visit")),
    Endpoint("POST", "api/visits/{v}/cancel",
             expect(assigned_caregiver=200, owner=200, admin=200),
             body={"reason": "개인 사정"}, audited=("update", "visit")),
    Endpoint("POST", "api/visits/{v}/review", success(ADMIN, 200), body={"note": "확인함"},
             visit="manual", audited=("update", "visit")),
    Endpoint("GET", "api/admin/visits", success(ADMIN, 200)),
    Endpoint("POST", "api/patients/{p}/home-tags", success(PLAN, 201),
             body={"tag_uid": "04:NEW:{p}"}, audited=("create", "home_tag")),
    Endpoint("GET", "api/patients/{p}/home-tags", success(PLAN, 200),
             audited=("view", "home_tag")),
    Endpoint("DELETE", "api/patients/{p}/home-tags/{t}", success(PLAN, 204),
             audited=("delete", "home_tag")),
    Endpoint("PUT", "api/patients/{p}/home-location", success(PLAN, 200),
             body={"latitude": 37.5, "longitude": 127.0}, audited=("update", "patient")),
]  # fmt: skip


@dataclass
class World:
    parties: Parties
    other_active: TestUser
    schedule_id: int
    start: datetime
    tag_id: int

    def user(self, who: str) -> TestUser | None:
        if who == "anonymous":
            return None
        if who == OTHER_ACTIVE:
            return self.other_active
        return getattr(self.parties, who)

    def headers(self, who: str) -> dict[str, str]:
        user = self.user(who)
        return user.headers if user else {}


@pytest.fixture
def world(database_url: str, parties: Parties) -> World:
    """The parties, a second active caregiver, a schedule today and the home's tag."""
    start = datetime.now(UTC) + timedelta(minutes=5)
    with cursor(database_url) as cur:
        other = make_caregiver(cur)
        make_matching(cur, parties.patient_id, other, status="active")
        schedule_id = make_schedule(cur, parties.patient_id, start.astimezone(KOREA).date())
        cur.execute(
            "INSERT INTO home_tags (patient_id, tag_uid, label) VALUES (%s, %s, '현관')"
            " RETURNING tag_id",
            (parties.patient_id, TAG_UID.format(p=parties.patient_id)),
        )
        tag_id = cur.fetchone()["tag_id"]
    return World(parties, other, schedule_id, start, tag_id)


def fill(body: dict[str, Any] | None, patient_id: int) -> dict[str, Any] | None:
    """The body with `{p}` in its strings replaced by the patient's id."""
    if body is None:
        return None
    return {k: v.format(p=patient_id) if isinstance(v, str) else v for k, v in body.items()}


def make_visit(database_url: str, world: World, state: str) -> int:
    """A visit of the assigned caregiver's matching, in `state`."""
    p = world.parties
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT caregiver_id FROM matching_results WHERE matching_id = %s", (p.matching_id,)
        )
        caregiver_id = cur.fetchone()["caregiver_id"]
        cur.execute(
            """
            INSERT INTO visits (schedule_id, patient_id, matching_id, caregiver_id, planned_start,
                                planned_end, status, check_in_at, needs_review)
            VALUES (%(s)s, %(p)s, %(m)s, %(c)s, %(start)s, %(start)s + interval '2 hours',
                    %(status)s, %(check_in)s, %(review)s)
            RETURNING visit_id
            """,
            {
                "s": world.schedule_id,
                "p": p.patient_id,
                "m": p.matching_id,
                "c": caregiver_id,
                "start": world.start,
                "status": "in_progress" if state == "in_progress" else "planned",
                "check_in": datetime.now(UTC) - timedelta(hours=1)
                if state == "in_progress"
                else None,
                "review": state == "manual",
            },
        )
        return cur.fetchone()["visit_id"]


def stored(database_url: str, patient_id: int) -> str:
    """Everything visits write about the patient, as text to compare."""
    with cursor(database_url) as cur:
        parts = []
        for query in (
            "SELECT * FROM visits WHERE patient_id = %s ORDER BY visit_id",
            "SELECT e.* FROM visit_evidence e JOIN visits v USING (visit_id)"
            " WHERE v.patient_id = %s ORDER BY 1, 2",
            "SELECT * FROM home_tags WHERE patient_id = %s ORDER BY tag_id",
            "SELECT home_latitude, home_longitude FROM patients WHERE patient_id = %s",
            "SELECT event_type, recipient_user_id, channel FROM notification_outbox"
            " WHERE patient_id = %s ORDER BY outbox_id",
        ):
            cur.execute(query, (patient_id,))
            parts.append(cur.fetchall())
        return str(parts)


def actor_events(database_url: str, user_id: int) -> list[tuple]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT DISTINCT action, resource_type FROM audit_events WHERE actor_user_id = %s",
            (user_id,),
        )
        return [tuple(row.values()) for row in cur.fetchall()]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_party_gets_what_the_rules_say(
    app_server, database_url, world: World, endpoint: Endpoint, who: str
):
    p = world.parties
    visit_id = make_visit(database_url, world, endpoint.visit)
    path = endpoint.path.format(p=p.patient_id, v=visit_id, t=world.tag_id)
    body = endpoint.body
    if body == {"plan": True}:
        body = _plan_body(world.start, world.schedule_id) | {"matching_id": p.matching_id}
    body = fill(body, p.patient_id)
    before = stored(database_url, p.patient_id)
    user = world.user(who)
    events_before = actor_events(database_url, user.user_id) if user else []

    response = app_server.request(endpoint.method, path, headers=world.headers(who), json=body)

    status = endpoint.expected[who]
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["code"] == {401: "unauthorized", 403: "forbidden"}.get(
            status, "not_found"
        )
        assert stored(database_url, p.patient_id) == before
        if user:
            assert actor_events(database_url, user.user_id) == events_before
        return
    assert user is not None
    if endpoint.audited:
        assert endpoint.audited in actor_events(database_url, user.user_id)
    if endpoint.method == "GET":
        assert stored(database_url, p.patient_id) == before
    else:
        assert stored(database_url, p.patient_id) != before


def test_a_missing_visit_answers_like_a_foreign_one(app_server, database_url, world: World):
    """A visit that does not exist and one out of scope are indistinguishable."""
    for endpoint in ENDPOINTS:
        if "{v}" not in endpoint.path:
            continue
        path = endpoint.path.format(v=987654321)
        body = fill(endpoint.body, world.parties.patient_id)
        for who in ("owner", "admin", "assigned_caregiver"):
            response = app_server.request(
                endpoint.method, path, headers=world.headers(who), json=body
            )
            expected = 403 if endpoint.expected[who] == 403 else 404
            assert response.status_code == expected, (str(endpoint), who, response.text)


def test_caregivers_are_refused_planning_before_their_input_is_read(app_server, world: World):
    for endpoint in ENDPOINTS:
        if endpoint.expected["assigned_caregiver"] != 403 or endpoint.method == "GET":
            continue
        path = endpoint.path.format(p=world.parties.patient_id, v=1, t=world.tag_id)
        response = app_server.request(
            endpoint.method, path, headers=world.headers("assigned_caregiver"),
            data=b'{"broken": ',
        )  # fmt: skip
        assert response.status_code == 403, (str(endpoint), response.text)
