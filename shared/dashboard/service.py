"""The signed-in user's dashboard (API.md "Reviews and dashboard").

A guardian sees each of its patients with the matching in progress and today's task counts; a
caregiver sees its active assignments, today's schedules, waiting offers and rating. Operators
have no dashboard here (403): their views are the admin endpoints.

Each panel is one statement (shared/dashboard/repository.py), so the number of round trips does
not grow with the number of patients. The dashboard is read in the request's unit of work
(shared.unit_of_work); reading patients' data through it writes one audit event per patient
shown, in the same transaction.
"""

from __future__ import annotations

from datetime import date

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
from shared.audit import AuditAction
from shared.auth import users_repository
from shared.auth.authorization import require_role
from shared.benefits import usage_alerts
from shared.dashboard import repository
from shared.dashboard.repository import AssignmentRow, GuardianPatientRow
from shared.errors import NotFoundError
from shared.unit_of_work import UnitOfWork


def get_dashboard(
    uow: UnitOfWork, *, today: date | None = None
) -> GuardianDashboard | CaregiverDashboard:
    """The caller's dashboard for `today` (default: Korea's date); 403 for operators."""
    principal = uow.principal
    require_role(principal, Role.GUARDIAN, Role.CAREGIVER)
    day = today or korea_today()
    user = users_repository.get_user(uow.cursor, principal.user_id)
    if user is None:
        raise NotFoundError("The account no longer exists.")
    if principal.role == Role.GUARDIAN:
        return _guardian_dashboard(uow, User.model_validate(user), day)
    return _caregiver_dashboard(uow, User.model_validate(user), day)


def _guardian_dashboard(uow: UnitOfWork, user: User, today: date) -> GuardianDashboard:
    rows = repository.guardian_patients(uow.cursor, uow.principal.user_id, today)
    uow.audit_many(AuditAction.VIEW, "dashboard", [(r["patient_id"], None) for r in rows])
    panels = [_patient_panel(row) for row in rows]
    # This month's use against the cap (shared.benefits.usage_alerts), for all in a few reads.
    usage = usage_alerts.usage_panels(uow, {r["patient_id"]: r["care_level"] for r in rows}, today)
    for panel in panels:
        panel.benefit_usage = usage[panel.patient_id]
    return GuardianDashboard(user=user, patients=panels)


def _patient_panel(row: GuardianPatientRow) -> GuardianPatientPanel:
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


def _caregiver_dashboard(uow: UnitOfWork, user: User, today: date) -> CaregiverDashboard:
    cur, user_id = uow.cursor, uow.principal.user_id
    assignments = repository.caregiver_assignments(cur, user_id, today)
    schedules = repository.caregiver_today_schedules(cur, user_id, today)
    standing = repository.caregiver_standing(cur, user_id)
    shown = dict.fromkeys(r["patient_id"] for r in (*assignments, *schedules))
    uow.audit_many(AuditAction.VIEW, "dashboard", [(pid, None) for pid in shown])
    return CaregiverDashboard(
        user=user,
        active_assignments=[_assignment(row) for row in assignments],
        today_schedules=[TodaySchedule.model_validate(row) for row in schedules],
        pending_offers=standing["pending_offers"] if standing else 0,
        avg_rating=float(standing["avg_rating"]) if standing else None,
        total_reviews=standing["total_reviews"] if standing else 0,
    )


def _assignment(row: AssignmentRow) -> ActiveAssignment:
    patient = {
        "name": row["name"],
        "age": row["age"],
        "gender": row["gender"],
        "care_level": row["care_level"],
        "mobility_status": row["mobility_status"],
        "region_code": row["region_code"],
        "conditions": row["conditions"],
    }
    return ActiveAssignment.model_validate(
        {
            "matching_id": row["matching_id"],
            "patient_id": row["patient_id"],
            "patient": patient,
            "contract_start_date": row["contract_start_date"],
            "contract_end_date": row["contract_end_date"],
        }
    )
