"""All SQL of incidents. Parameterised, nothing else; rows as `IncidentRow`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from shared.db import Cursor
from shared.integrity import FieldRule, register_constraints

register_constraints(
    {
        "incidents_description_check": FieldRule("description"),
        "incidents_actions_taken_check": FieldRule("actions_taken"),
        "incidents_follow_up_note_check": FieldRule("follow_up_note"),
        "incidents_visit_fkey": FieldRule("visit_id", "is not a visit of this patient"),
    }
)


class IncidentRow(TypedDict):
    incident_id: int
    patient_id: int
    visit_id: int | None
    reported_by: int | None
    reporter_role: str | None
    kind: str
    severity: str
    occurred_at: datetime
    description: str
    actions_taken: str | None
    follow_up_status: str
    follow_up_note: str | None
    created_at: datetime
    updated_at: datetime


_SELECT = """
SELECT i.incident_id, i.patient_id, i.visit_id, i.reported_by, u.role AS reporter_role, i.kind,
       i.severity, i.occurred_at, i.description, i.actions_taken, i.follow_up_status,
       i.follow_up_note, i.created_at, i.updated_at
FROM incidents i LEFT JOIN users u ON u.user_id = i.reported_by
"""


def insert_incident(
    cur: Cursor,
    *,
    patient_id: int,
    visit_id: int | None,
    user_id: int,
    kind: str,
    severity: str,
    occurred_at: datetime,
    description: str,
    actions_taken: str | None,
) -> int:
    cur.execute(
        """
        INSERT INTO incidents (patient_id, visit_id, reported_by, kind, severity, occurred_at,
                               description, actions_taken)
        VALUES (%(patient_id)s, %(visit_id)s, %(user_id)s, %(kind)s, %(severity)s,
                %(occurred_at)s, %(description)s, %(actions_taken)s)
        RETURNING incident_id
        """,
        {
            "patient_id": patient_id,
            "visit_id": visit_id,
            "user_id": user_id,
            "kind": kind,
            "severity": severity,
            "occurred_at": occurred_at,
            "description": description,
            "actions_taken": actions_taken,
        },
    )
    return int(cast(dict[str, Any], cur.fetchone())["incident_id"])


def get_incident(cur: Cursor, incident_id: int) -> IncidentRow | None:
    cur.execute(_SELECT + " WHERE i.incident_id = %s", (incident_id,))
    return cast(IncidentRow | None, cur.fetchone())


def incident_patient_id(cur: Cursor, incident_id: int, *, for_update: bool = False) -> int | None:
    cur.execute(
        "SELECT patient_id FROM incidents WHERE incident_id = %s"  # noqa: S608
        + (" FOR UPDATE" if for_update else ""),
        (incident_id,),
    )
    row = cur.fetchone()
    return int(row["patient_id"]) if row else None


def patient_incidents(
    cur: Cursor, patient_id: int, follow_up_status: str | None, *, limit: int, offset: int
) -> tuple[list[IncidentRow], int]:
    where = (
        " WHERE i.patient_id = %(patient_id)s"
        " AND (%(status)s::text IS NULL OR i.follow_up_status = %(status)s::text)"
    )
    params = {"patient_id": patient_id, "status": follow_up_status}
    cur.execute("SELECT count(*) AS n FROM incidents i" + where, params)  # noqa: S608
    total = int(cast(dict[str, Any], cur.fetchone())["n"])
    cur.execute(
        _SELECT + where + " ORDER BY i.occurred_at DESC, i.incident_id DESC"
        " LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": limit, "offset": offset},
    )
    return cast(list[IncidentRow], cur.fetchall()), total


def update_follow_up(
    cur: Cursor,
    incident_id: int,
    *,
    status: str | None,
    note: str | None,
    set_note: bool,
) -> None:
    cur.execute(
        """
        UPDATE incidents
        SET follow_up_status = coalesce(%(status)s, follow_up_status),
            follow_up_note = CASE WHEN %(set_note)s THEN %(note)s ELSE follow_up_note END
        WHERE incident_id = %(incident_id)s
        """,
        {"incident_id": incident_id, "status": status, "note": note, "set_note": set_note},
    )


def visit_of_patient(cur: Cursor, visit_id: int, patient_id: int) -> int | None:
    """The visit's caregiver's user id, if the visit is the patient's (None otherwise)."""
    cur.execute(
        """
        SELECT c.user_id FROM visits v JOIN caregivers c ON c.caregiver_id = v.caregiver_id
        WHERE v.visit_id = %s AND v.patient_id = %s
        """,
        (visit_id, patient_id),
    )
    row = cur.fetchone()
    return int(row["user_id"]) if row else None


def server_now(cur: Cursor) -> datetime:
    cur.execute("SELECT now() AS now")
    return cast(datetime, cast(dict[str, Any], cur.fetchone())["now"])
