"""Who may call each patient endpoint: every route against every party of `parties`.

Reads (READ_PROFILE): the owner, the caregiver of the active matching and operators; other
guardians and unassigned caregivers get 404 (as for a patient that does not exist). Changes
(MANAGE): the owner only; caregivers and operators get 403, other guardians 404. A refused
call changes nothing and leaves no audit event; an allowed read leaves a `view` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import PARTY_NAMES, Parties, cursor, set_patient_profile

pytestmark = pytest.mark.integration

READ = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 404,
    "assigned_caregiver": 200,
    "owner": 200,
    "admin": 200,
}


def manage(success: int) -> dict[str, int]:
    return {
        "anonymous": 401,
        "other_guardian": 404,
        "unassigned_caregiver": 403,
        "assigned_caregiver": 403,
        "owner": success,
        "admin": 403,
    }


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {p}: the patient, {m}: one of its medications
    expected: dict[str, int]
    body: dict[str, Any] | None = None
    audited: tuple[str, str] | None = None  # (action, resource_type) when allowed

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "api/patients/{p}", READ, audited=("view", "patient")),
    Endpoint(
        "PATCH",
        "api/patients/{p}",
        manage(200),
        body={"care_level": "grade_1"},
        audited=("update", "patient"),
    ),
    Endpoint("DELETE", "api/patients/{p}", manage(204), audited=("delete", "patient")),
    Endpoint(
        "PUT",
        "api/patients/{p}/conditions",
        manage(200),
        body={"conditions": [{"code": "stroke"}]},
        audited=("update", "patient_conditions"),
    ),
    Endpoint(
        "POST",
        "api/patients/{p}/medications",
        manage(201),
        body={"name": "아스피린"},
        audited=("create", "medication"),
    ),
    Endpoint("GET", "api/patients/{p}/medications", READ, audited=("view", "medication")),
    Endpoint(
        "DELETE",
        "api/patients/{p}/medications/{m}",
        manage(204),
        audited=("delete", "medication"),
    ),
    Endpoint(
        "PUT",
        "api/patients/{p}/diet",
        manage(200),
        body={"allergens": ["egg"], "diet_type": "soft"},
        audited=("update", "diet"),
    ),
    Endpoint(
        "PUT",
        "api/patients/{p}/personality",
        manage(200),
        body={"empathy": 1, "activity": 2, "patience": 3, "independence": 4},
        audited=("update", "personality"),
    ),
]


def stored(database_url: str, patient_id: int) -> str:
    """Everything stored about the patient, as text to compare."""
    with cursor(database_url) as cur:
        parts = []
        for table in (
            "patients",
            "patient_conditions",
            "patient_medications",
            "patient_diets",
            "patient_personality",
        ):
            cur.execute(f"SELECT * FROM {table} WHERE patient_id = %s ORDER BY 1, 2", (patient_id,))
            parts.append(cur.fetchall())
        return str(parts)


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
    with cursor(database_url) as cur:
        (medication_id,) = set_patient_profile(
            cur,
            parties.patient_id,
            conditions=("dementia",),
            medications=("도네페질",),
            diet_type="regular",
            personality=(50, 50, 50, 50),
        )
    path = endpoint.path.format(p=parties.patient_id, m=medication_id)
    before = stored(database_url, parties.patient_id)

    response = app_server.request(
        endpoint.method, path, headers=parties.headers(who), json=endpoint.body
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
        assert endpoint.audited is not None
        assert user is not None
        assert trail == [(*endpoint.audited, user.role)]
        if endpoint.method == "GET":
            assert stored(database_url, parties.patient_id) == before
        else:
            assert stored(database_url, parties.patient_id) != before


def test_the_offered_caregiver_cannot_read_the_profile_yet(app_server, parties: Parties):
    """A selected (not yet accepted) matching shows only the offer summary, elsewhere."""
    headers = parties.offered_caregiver.headers
    for path in (
        f"api/patients/{parties.patient_id}",
        f"api/patients/{parties.patient_id}/medications",
    ):
        assert app_server.get(path, headers=headers).status_code == 404


def test_a_missing_patient_answers_like_a_foreign_one(app_server, parties: Parties):
    """Out of scope and nonexistent are indistinguishable, for every route and role."""
    missing = 987654321
    for endpoint in ENDPOINTS:
        path = endpoint.path.format(p=missing, m=1)
        for who in ("owner", "admin", "assigned_caregiver"):
            response = app_server.request(
                endpoint.method, path, headers=parties.headers(who), json=endpoint.body
            )
            expected = 403 if endpoint.expected[who] == 403 else 404
            assert response.status_code == expected, (endpoint, who, response.text)


@pytest.mark.parametrize("who", ["assigned_caregiver", "admin"])
def test_roles_that_may_never_change_a_patient_are_refused_before_their_input_is_read(
    app_server, parties: Parties, who
):
    """403, not 422, for a malformed body: the caller learns nothing about the inputs."""
    changes = [e for e in ENDPOINTS if e.method != "GET"] + [
        Endpoint("POST", "api/patients", {}),
        Endpoint("PUT", "api/guardians/me", {}),
    ]
    for endpoint in changes:
        path = endpoint.path.format(p=parties.patient_id, m=1)
        response = app_server.request(
            endpoint.method, path, headers=parties.headers(who), data=b'{"broken": '
        )
        assert response.status_code == 403, (str(endpoint), response.text)
        assert response.json()["code"] == "forbidden"
