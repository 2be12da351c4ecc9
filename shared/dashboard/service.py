"""The signed-in user's dashboard (API.md "Reviews and dashboard").

A guardian sees each of its patients with the matching in progress and today's task counts; a
caregiver sees its active assignments, today's schedules, waiting offers and rating. Operators
have no dashboard here (403): their views are the admin endpoints.

Each panel is one statement (shared/dashboard/repository.py), so the number of round trips does
not grow with the number of patients. Reading patients' data through the dashboard writes one
audit event per patient shown, in the same transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from models.accounts import User
from models.dashboard import (
    ActiveAssignment,
    CaregiverDashboard,
    GuardianDashboard,
    GuardianPatientPanel,
    TodaySchedule,
)
from models.dates import korea_today
from models.vocabularies import Role
from shared import audit
from shared.audit import AuditAction
from shared.auth import users_repository
from shared.auth.authorization import require_role
from shared.auth.principal import Actor
from shared.dashboard import repository
from shared.db import Database
from shared.errors import NotFoundError


def get_dashboard(
    db: Database, actor: Actor, *, today: date | None = None
) -> GuardianDashboard | CaregiverDashboard:
    """The caller's dashboard for `today` (default: Korea's date); 403 for operators."""
    require_role(actor.principal, Role.GUARDIAN, Role.CAREGIVER)
    day = today or korea_today()
    with db.transaction() as cur:
        user = users_repository.get_user(cur, actor.user_id)
        if user is None:
            raise NotFoundError("The account no longer exists.")
        if actor.role == Role.GUARDIAN:
            return _guardian_dashboard(cur, actor, User.model_validate(user), day)
        return _caregiver_dashboard(cur, actor, User.model_validate(user), day)


def _guardian_dashboard(cur: Any, actor: Actor, user: User, today: date) -> GuardianDashboard:
    rows = repository.guardian_patients(cur, actor.user_id, today)
    audit.record_many(
        cur, actor, AuditAction.VIEW, "dashboard", [(r["patient_id"], None) for r in rows]
    )
    return GuardianDashboard(user=user, patients=[_patient_panel(row) for row in rows])


def _patient_panel(row: dict[str, Any]) -> GuardianPatientPanel:
    matching = None
    if row["matching_id"] is not None:
        matching = {
            "matching_id": row["matching_id"],
            "caregiver": {"caregiver_id": row["caregiver_id"], "name": row["caregiver_name"]},
            "status": row["matching_status"],
            "contract_start_date": row["contract_start_date"],
            "contract_end_date": row["contract_end_date"],
        }
    return GuardianPatientPanel.model_validate(
        {
            "patient_id": row["patient_id"],
            "name": row["name"],
            "age": row["age"],
            "care_level": row["care_level"],
            "active_matching": matching,
            "today": {"total": row["today_total"], "completed": row["today_completed"]},
        }
    )


def _caregiver_dashboard(cur: Any, actor: Actor, user: User, today: date) -> CaregiverDashboard:
    assignments = repository.caregiver_assignments(cur, actor.user_id, today)
    schedules = repository.caregiver_today_schedules(cur, actor.user_id, today)
    standing = repository.caregiver_standing(cur, actor.user_id)
    shown = dict.fromkeys(r["patient_id"] for r in (*assignments, *schedules))
    audit.record_many(cur, actor, AuditAction.VIEW, "dashboard", [(pid, None) for pid in shown])
    return CaregiverDashboard(
        user=user,
        active_assignments=[_assignment(row) for row in assignments],
        today_schedules=[TodaySchedule.model_validate(row) for row in schedules],
        pending_offers=standing["pending_offers"] if standing else 0,
        avg_rating=standing["avg_rating"] if standing else None,
        total_reviews=standing["total_reviews"] if standing else 0,
    )


def _assignment(row: dict[str, Any]) -> ActiveAssignment:
    patient_fields = (
        "name",
        "age",
        "gender",
        "care_level",
        "mobility_status",
        "region_code",
        "conditions",
    )
    return ActiveAssignment.model_validate(
        {
            "matching_id": row["matching_id"],
            "patient_id": row["patient_id"],
            "patient": {key: row[key] for key in patient_fields},
            "contract_start_date": row["contract_start_date"],
            "contract_end_date": row["contract_end_date"],
        }
    )
