"""Who may call each visit record route: every route against every party of `parties`.

- read the record and ask for a download link (READ_CARE): the owner, the caregiver of the
  active matching, operators; another guardian and an unassigned caregiver get 404 (as for a
  patient that does not exist).
- acknowledge: the owner and the caregiver who delivered the month's visits; operators 403 (the
  role never may), another guardian and an unassigned caregiver 404.
A refused call writes nothing (no acknowledgement, no file) and leaves no audit event.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PARTY_NAMES, Parties, cursor
from tests.integration.visit_records_data import audit_events, stored_blobs, write_month

pytestmark = pytest.mark.integration

READ = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 404,
    "assigned_caregiver": 200,
    "owner": 200,
    "admin": 200,
}
ACKNOWLEDGE = {**READ, "admin": 403}
ROUTES = (
    ("GET", "", None, READ, ("view", "visit_record")),
    ("POST", "/download", {"format": "pdf"}, READ, ("export", "visit_record")),
    ("POST", "/acknowledgements", None, ACKNOWLEDGE, ("create", "visit_record_acknowledgement")),
)


def acknowledgements(database_url: str, patient_id: int) -> int:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM visit_record_acknowledgements WHERE patient_id = %s",
            (patient_id,),
        )
        return int(cur.fetchone()["n"])


@pytest.mark.parametrize("party", PARTY_NAMES)
@pytest.mark.parametrize(("method", "suffix", "body", "expected", "event"), ROUTES)
def test_each_party_gets_what_the_rules_allow(
    app_server: Any,
    parties: Parties,
    database_url: str,
    blob_service: Any,
    party: str,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
    expected: dict[str, int],
    event: tuple[str, str],
) -> None:
    with cursor(database_url) as cur:
        care = write_month(cur, parties.patient_id, parties.assigned_caregiver)
    url = f"api/patients/{parties.patient_id}/visit-records/{care.month.text}{suffix}"
    response = app_server.request(method, url, json=body, headers=parties.headers(party))
    assert response.status_code == expected[party], response.text
    events = [e[:2] for e in audit_events(database_url, parties.patient_id)]
    if expected[party] == 200:
        assert event in events
        assert stored_blobs(blob_service, parties.patient_id)
        return
    assert events == []
    assert stored_blobs(blob_service, parties.patient_id) == {}
    assert acknowledgements(database_url, parties.patient_id) == 0


def test_a_patient_that_does_not_exist_answers_like_a_foreign_one(
    app_server: Any, parties: Parties
) -> None:
    for method, suffix, body, _, _ in ROUTES:
        url = f"api/patients/987654321012/visit-records/2026-01{suffix}"
        response = app_server.request(method, url, json=body, headers=parties.owner.headers)
        assert response.status_code == 404, (suffix, response.text)
