"""The PIPA access log: events written with the change they describe, append-only, and
readable by operators only through `GET /api/admin/audit-events`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from shared import audit
from shared.audit import AuditAction
from shared.auth.principal import Actor, Principal
from shared.db import get_database
from tests.factories import Parties, cursor

pytestmark = pytest.mark.integration


def actor_of(user, request_id="req-1", client_ip="203.0.113.7") -> Actor:
    return Actor(Principal(user.user_id, user.role, user.email, "x"), request_id, client_ip)


def events_for(database_url: str, patient_id: int) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT actor_user_id, actor_role, action, patient_id, resource_type, resource_id,"
            " request_id, host(client_ip) AS client_ip FROM audit_events"
            " WHERE patient_id = %s ORDER BY event_id",
            (patient_id,),
        )
        return cur.fetchall()


def test_event_and_change_commit_together(app_env, parties: Parties, database_url):
    actor = actor_of(parties.owner)
    with get_database().transaction() as cur:
        cur.execute(
            "UPDATE patients SET care_level = 'grade_2' WHERE patient_id = %s",
            (parties.patient_id,),
        )
        audit.record(
            cur,
            actor,
            AuditAction.UPDATE,
            patient_id=parties.patient_id,
            resource_type="patient",
            resource_id=parties.patient_id,
        )
    assert events_for(database_url, parties.patient_id) == [
        {
            "actor_user_id": parties.owner.user_id,
            "actor_role": "guardian",
            "action": "update",
            "patient_id": parties.patient_id,
            "resource_type": "patient",
            "resource_id": str(parties.patient_id),
            "request_id": "req-1",
            "client_ip": "203.0.113.7",
        }
    ]


def test_event_and_change_roll_back_together(app_env, parties: Parties, database_url):
    def record_then_fail() -> None:
        with get_database().transaction() as cur:
            audit.record(
                cur,
                actor_of(parties.owner),
                AuditAction.UPDATE,
                patient_id=parties.patient_id,
                resource_type="patient",
            )
            cur.execute(
                "UPDATE patients SET care_level = 'grade_9' WHERE patient_id = %s",
                (parties.patient_id,),
            )

    with pytest.raises(psycopg2.errors.CheckViolation):
        record_then_fail()
    assert events_for(database_url, parties.patient_id) == []


def test_audit_rows_cannot_be_changed_or_deleted(app_env, parties: Parties, database_url):
    with get_database().transaction() as cur:
        audit.record(
            cur,
            actor_of(parties.owner),
            AuditAction.VIEW,
            patient_id=parties.patient_id,
            resource_type="patient",
        )
    for statement in (
        "UPDATE audit_events SET action = 'delete' WHERE patient_id = %s",
        "DELETE FROM audit_events WHERE patient_id = %s",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), cursor(database_url) as cur:
            cur.execute(statement, (parties.patient_id,))
    assert [e["action"] for e in events_for(database_url, parties.patient_id)] == ["view"]


def _seed_events(parties: Parties) -> None:
    with get_database().transaction() as cur:
        audit.record_many(
            cur,
            actor_of(parties.owner),
            AuditAction.VIEW,
            "patient",
            [(parties.patient_id, parties.patient_id)] * 2,
        )
        audit.record(
            cur,
            actor_of(parties.assigned_caregiver, client_ip=None),
            AuditAction.CREATE,
            patient_id=parties.patient_id,
            resource_type="care_log",
            resource_id=42,
        )


def test_admin_reads_events_filtered_by_patient_actor_and_time(app_env, app_server, parties):
    _seed_events(parties)
    headers = parties.admin.headers

    by_patient = app_server.get(
        "api/admin/audit-events", params={"patient_id": parties.patient_id}, headers=headers
    ).json()
    assert by_patient["total"] == 3
    assert [e["action"] for e in by_patient["items"]] == ["create", "view", "view"]  # newest first
    assert by_patient["items"][0]["resource_id"] == "42"

    by_actor = app_server.get(
        "api/admin/audit-events",
        params={"patient_id": parties.patient_id, "actor_id": parties.owner.user_id},
        headers=headers,
    ).json()
    assert by_actor["total"] == 2
    assert {e["client_ip"] for e in by_actor["items"]} == {"203.0.113.7"}

    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    later = app_server.get(
        "api/admin/audit-events",
        params={"patient_id": parties.patient_id, "from": future},
        headers=headers,
    ).json()
    assert later == {"items": [], "total": 0}
    page = app_server.get(
        "api/admin/audit-events",
        params={"patient_id": parties.patient_id, "limit": 1, "offset": 1},
        headers=headers,
    ).json()
    assert page["total"] == 3
    assert len(page["items"]) == 1


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("owner", 403),
        ("other_guardian", 403),
        ("unassigned_caregiver", 403),
        ("assigned_caregiver", 403),
        ("admin", 200),
    ],
)
def test_only_admins_read_the_audit_log(app_server, parties: Parties, who, status):
    response = app_server.get("api/admin/audit-events", headers=parties.headers(who))
    assert response.status_code == status


@pytest.mark.parametrize(
    "params",
    [
        {"patient_id": "abc"},
        {"from": "yesterday"},
        {"limit": "0"},
        {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    ],
)
def test_bad_filters_are_422(app_server, parties: Parties, params):
    response = app_server.get(
        "api/admin/audit-events", params=params, headers=parties.admin.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
