"""Who may call the long-term-care benefit routes: the owning guardian and operators only.

Caregivers (assigned or not) get 403 whatever the patient; another guardian 404, as for a
patient that does not exist. A refused call changes nothing and leaves no audit event; an
allowed one leaves exactly one (`view` for reads, `update` for a profile change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import PARTY_NAMES, Parties, cursor

pytestmark = pytest.mark.integration

OWNER_OR_OPERATOR = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 403,
    "assigned_caregiver": 403,
    "owner": 200,
    "admin": 200,
}
PROFILE = {
    "grade": "grade_2",
    "recognition_number": "L2000000001",
    "copay_percent": 9,
    "effective_from": "2026-01-01",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    audited: tuple[str, str]
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "api/patients/{p}/ltc-profile", ("view", "ltc_profile")),
    Endpoint("PUT", "api/patients/{p}/ltc-profile", ("update", "ltc_profile"), PROFILE),
    Endpoint("GET", "api/patients/{p}/statements/2026-01", ("view", "benefit_statement")),
]


def stored(database_url: str, patient_id: int) -> str:
    with cursor(database_url) as cur:
        cur.execute("SELECT * FROM ltc_profiles WHERE patient_id = %s ORDER BY 1", (patient_id,))
        profiles = cur.fetchall()
        cur.execute("SELECT care_level FROM patients WHERE patient_id = %s", (patient_id,))
        return str((profiles, cur.fetchall()))


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
    path = endpoint.path.format(p=parties.patient_id)
    before = stored(database_url, parties.patient_id)

    response = app_server.request(
        endpoint.method, path, headers=parties.headers(who), json=endpoint.body
    )

    status = OWNER_OR_OPERATOR[who]
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
        assert trail == [(*endpoint.audited, user.role)]
        changed = stored(database_url, parties.patient_id) != before
        assert changed is (endpoint.method == "PUT")


def test_a_missing_patient_answers_like_a_foreign_one(app_server, parties: Parties):
    for endpoint in ENDPOINTS:
        path = endpoint.path.format(p=987654321)
        for who in ("owner", "admin"):
            response = app_server.request(
                endpoint.method, path, headers=parties.headers(who), json=endpoint.body
            )
            assert response.status_code == 404, (str(endpoint), who, response.text)


def test_caregivers_are_refused_before_their_input_is_read(app_server, parties: Parties):
    """403, not 422, for a malformed body or month: the caller learns nothing about inputs."""
    for who in ("assigned_caregiver", "unassigned_caregiver"):
        headers = parties.headers(who)
        put = app_server.request(
            "PUT", f"api/patients/{parties.patient_id}/ltc-profile", headers=headers,
            data=b'{"broken": ',
        )  # fmt: skip
        assert put.status_code == 403, put.text
        bad_month = app_server.get(
            f"api/patients/{parties.patient_id}/statements/2026-13", headers=headers
        )
        assert bad_month.status_code == 403, bad_month.text
