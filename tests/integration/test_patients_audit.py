"""The PIPA access log as the patient endpoints write it (issue 3), and the repository's cost.

After a guardian reads and edits a patient through the HTTP API, the audit events carry who
(user id and role), what (action, patient, resource type and id), and through which request
(the server's request id, never the caller's X-Request-ID; the client address the front end
appended to X-Forwarded-For, never one the caller wrote); and the rows cannot be changed
afterwards.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import cast

import psycopg2
import pytest

from models.dates import age_on
from shared.db import Cursor, get_database
from shared.patients import repository
from tests.factories import Parties, cursor, make_guardian, make_patient, set_patient_profile

pytestmark = pytest.mark.integration


def audit_rows(database_url: str, patient_id: int) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT event_id, actor_user_id, actor_role, action, patient_id, resource_type,"
            " resource_id, request_id, host(client_ip) AS client_ip, occurred_at"
            " FROM audit_events WHERE patient_id = %s ORDER BY event_id",
            (patient_id,),
        )
        return cur.fetchall()


def test_a_guardians_read_and_edit_leave_complete_append_only_events(
    app_server, database_url, parties: Parties
):
    read_id, edit_id = f"read-{uuid.uuid4().hex}", f"edit-{uuid.uuid4().hex}"
    path = f"api/patients/{parties.patient_id}"
    read = app_server.get(
        path,
        headers={
            **parties.owner.headers,
            "X-Request-ID": read_id,
            "X-Forwarded-For": "203.0.113.20, 10.0.0.4",
        },
    )
    assert read.status_code == 200, read.text
    assert read.headers["X-Client-Request-ID"] == read_id
    edit = app_server.request(
        "PATCH",
        path,
        headers={
            **parties.owner.headers,
            "X-Request-ID": edit_id,
            "X-Forwarded-For": "198.51.100.7:52100",
        },
        json={"mobility_status": "bedridden"},
    )
    assert edit.status_code == 200, edit.text
    # The events name the server's request ids, never the caller's; the address is the one the
    # front end appended (the local host appends the peer's, as Azure's does), never a forged one.
    read_id, edit_id = read.headers["X-Request-ID"], edit.headers["X-Request-ID"]

    rows = audit_rows(database_url, parties.patient_id)
    common = {
        "actor_user_id": parties.owner.user_id,
        "actor_role": "guardian",
        "patient_id": parties.patient_id,
        "resource_type": "patient",
        "resource_id": str(parties.patient_id),
    }
    assert [
        {k: row[k] for k in (*common, "action", "request_id", "client_ip")} for row in rows
    ] == [
        {**common, "action": "view", "request_id": read_id, "client_ip": "127.0.0.1"},
        {**common, "action": "update", "request_id": edit_id, "client_ip": "127.0.0.1"},
    ]
    assert rows[0]["occurred_at"] <= rows[1]["occurred_at"]

    # Append-only: neither an UPDATE nor a DELETE of those events goes through.
    for statement in (
        "UPDATE audit_events SET actor_user_id = NULL WHERE patient_id = %s",
        "UPDATE audit_events SET action = 'view' WHERE event_id = %s",
        "DELETE FROM audit_events WHERE patient_id = %s",
    ):
        target = rows[1]["event_id"] if "event_id" in statement else parties.patient_id
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), cursor(database_url) as cur:
            cur.execute(statement, (target,))
    assert audit_rows(database_url, parties.patient_id) == rows

    # And an operator reads the same events through the API.
    listed = app_server.get(
        "api/admin/audit-events",
        params={"patient_id": parties.patient_id},
        headers=parties.admin.headers,
    ).json()
    assert [(e["action"], e["request_id"], e["client_ip"]) for e in listed["items"]] == [
        ("update", edit_id, "127.0.0.1"),
        ("view", read_id, "127.0.0.1"),
    ]


def test_a_failed_edit_leaves_no_event(app_server, database_url, parties: Parties):
    response = app_server.request(
        "PATCH",
        f"api/patients/{parties.patient_id}",
        headers=parties.owner.headers,
        json={"care_level": "grade_9"},
    )
    assert response.status_code == 422
    assert audit_rows(database_url, parties.patient_id) == []


class CountingCursor:
    """Wraps a cursor and counts the statements sent through it."""

    def __init__(self, cur):
        self._cur = cur
        self.statements = 0

    def execute(self, *args, **kwargs):
        self.statements += 1
        return self._cur.execute(*args, **kwargs)

    def executemany(self, *args, **kwargs):
        self.statements += 1
        return self._cur.executemany(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cur, name)


def test_whole_patients_cost_the_same_few_queries_however_many(app_env, database_url):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        ids = [make_patient(cur, guardian, name=f"환자{i}") for i in range(6)]
        for patient_id in ids:
            set_patient_profile(
                cur,
                patient_id,
                conditions=("dementia", "arthritis"),
                medications=("a", "b"),
                diet_type="soft",
                personality=(10, 20, 30, 40),
            )
    counts = []
    with get_database().transaction(readonly=True) as raw:
        for subset in (ids[:1], ids):
            cur = CountingCursor(raw)
            patients = repository.get_patients(cast(Cursor, cur), subset)
            assert [p["patient_id"] for p in patients] == subset
            assert all(len(p["medications"]) == 2 and p["diet"] for p in patients)
            counts.append(cur.statements)
        listing = CountingCursor(raw)
        page, total = repository.list_patients(
            cast(Cursor, listing), guardian_user_id=guardian.user_id, limit=50, offset=0
        )
        past_the_end = CountingCursor(raw)
        empty, total_past_the_end = repository.list_patients(
            cast(Cursor, past_the_end), guardian_user_id=guardian.user_id, limit=50, offset=6
        )
    assert counts == [1, 1]
    assert total == 6
    assert [p["patient_id"] for p in page] == ids
    assert listing.statements == 1
    assert (empty, total_past_the_end) == ([], 6)  # the count still says how many there are
    assert past_the_end.statements == 2


def test_offer_summaries_leave_out_identifying_details(app_env, database_url):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian, birth_date=date(1950, 3, 1))
        set_patient_profile(cur, patient_id, conditions=("stroke",))
    with get_database().transaction(readonly=True) as cur:
        summaries = repository.get_patient_summaries(cur, [patient_id, 999999999])
    summary = summaries[patient_id]
    assert set(summaries) == {patient_id}
    assert set(summary) == {
        "patient_id",
        "age",
        "gender",
        "care_level",
        "care_level_label",
        "mobility_status",
        "mobility_status_label",
        "region_code",
        "conditions",
    }
    assert summary["conditions"] == [{"code": "stroke", "label": "뇌졸중"}]
    assert summary["care_level_label"] == "3등급"


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(1940, 5, 1), date(2026, 4, 30), 85),
        (date(1940, 5, 1), date(2026, 5, 1), 86),
        (date(1940, 2, 29), date(2026, 2, 28), 85),
        (date(1940, 2, 29), date(2026, 3, 1), 86),
        (date(1940, 2, 29), date(2028, 2, 29), 88),
    ],
)
def test_age_counts_full_years(birth, today, age):
    assert age_on(birth, today) == age


def test_database_refusals_become_api_errors_and_roll_back(app_env, database_url):
    """The models repeat every CHECK; should one slip through, it is a 422, not a 500."""
    from shared.errors import ValidationFailedError
    from shared.unit_of_work import UnitOfWork

    with cursor(database_url) as cur:
        patient_id = make_patient(cur, make_guardian(cur))
    for statement, field in (
        ("UPDATE patients SET height_cm = 10, name = 'x' WHERE patient_id = %s", "height_cm"),
        ("UPDATE patients SET care_level = NULL WHERE patient_id = %s", "care_level"),
    ):
        with pytest.raises(ValidationFailedError) as refused, UnitOfWork.for_job() as uow:
            uow.cursor.execute(statement, (patient_id,))
        assert [e.loc for e in refused.value.errors] == [("body", field)]
    with cursor(database_url) as cur:
        cur.execute("SELECT name, height_cm FROM patients WHERE patient_id = %s", (patient_id,))
        assert cur.fetchone() == {"name": "김환자", "height_cm": None}
