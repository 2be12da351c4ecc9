"""May this user do this to this patient? The one answer every patient-scoped service asks for.

The rules are one table (`RULES`): for each action, which roles may ever do it and within which
scope. A role missing from an action's row gets 403 whatever the patient (so a 403 reveals
nothing about which patients exist); a role that may act, but not on this patient, gets 404,
exactly like a patient that does not exist, so ids cannot be probed.

Scopes:
- `owner`: the guardian whose patient it is;
- `active`: a caregiver holding an `active` matching with the patient;
- `offered`: a caregiver holding a `selected` or `active` matching (sees the reduced summary);
- `any`: every patient (operators, read-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from models.vocabularies import Role
from shared.auth.care_relationships import OFFERED, SERVING, caregiver_holds_matching
from shared.auth.principal import Principal
from shared.db import Cursor
from shared.errors import ForbiddenError, NotFoundError


class PatientAction(StrEnum):
    #: The care profile: the patient, conditions, medications, diet, personality.
    READ_PROFILE = "read_profile"
    #: Schedules, care logs, care plans, meal plans and care reports.
    READ_CARE = "read_care"
    #: Add a care log to a schedule or complete one.
    WRITE_CARE_LOG = "write_care_log"
    #: The reduced patient summary shown with a matching offer (no name, address or contacts).
    READ_OFFER_SUMMARY = "read_offer_summary"
    #: Matching requests and their results.
    READ_MATCHING = "read_matching"
    #: Everything a guardian does to its own patient: edit, delete, request matching, plan care.
    MANAGE = "manage"
    #: Plan visits, register the home's NFC tags and location (the guardian or an operator).
    PLAN_VISITS = "plan_visits"
    #: Check in and out, the visit's checklist and medications, propose a correction, report an
    #: incident: the caregiver of an active matching (the service also checks it is the visit's).
    RECORD_VISIT = "record_visit"
    #: Approve or reject a visit correction (the guardian or an operator).
    APPROVE_CORRECTION = "approve_correction"
    #: Review a visit recorded without evidence, follow up an incident (operators).
    REVIEW_VISITS = "review_visits"
    #: The long-term-care profile (grade, co-payment class) and the monthly statements: the
    #: owning guardian and operators only (never a caregiver).
    MANAGE_BENEFITS = "manage_benefits"


class Scope(StrEnum):
    OWNER = "owner"
    ACTIVE = "active"
    OFFERED = "offered"
    ANY = "any"


RULES: dict[PatientAction, dict[Role, Scope]] = {
    PatientAction.READ_PROFILE: {Role.GUARDIAN: Scope.OWNER, Role.CAREGIVER: Scope.ACTIVE,
                                 Role.ADMIN: Scope.ANY},
    PatientAction.READ_CARE: {Role.GUARDIAN: Scope.OWNER, Role.CAREGIVER: Scope.ACTIVE,
                              Role.ADMIN: Scope.ANY},
    PatientAction.WRITE_CARE_LOG: {Role.GUARDIAN: Scope.OWNER, Role.CAREGIVER: Scope.ACTIVE},
    PatientAction.READ_OFFER_SUMMARY: {Role.GUARDIAN: Scope.OWNER, Role.CAREGIVER: Scope.OFFERED,
                                       Role.ADMIN: Scope.ANY},
    PatientAction.READ_MATCHING: {Role.GUARDIAN: Scope.OWNER, Role.ADMIN: Scope.ANY},
    PatientAction.MANAGE: {Role.GUARDIAN: Scope.OWNER},
    PatientAction.PLAN_VISITS: {Role.GUARDIAN: Scope.OWNER, Role.ADMIN: Scope.ANY},
    PatientAction.RECORD_VISIT: {Role.CAREGIVER: Scope.ACTIVE},
    PatientAction.APPROVE_CORRECTION: {Role.GUARDIAN: Scope.OWNER, Role.ADMIN: Scope.ANY},
    PatientAction.REVIEW_VISITS: {Role.ADMIN: Scope.ANY},
    PatientAction.MANAGE_BENEFITS: {Role.GUARDIAN: Scope.OWNER, Role.ADMIN: Scope.ANY},
}  # fmt: skip

_MATCHING_STATUSES = {Scope.ACTIVE: SERVING, Scope.OFFERED: OFFERED}


@dataclass(frozen=True)
class PatientAccess:
    """Proof that the principal may do `action` to the patient, and why."""

    patient_id: int
    guardian_user_id: int
    action: PatientAction
    scope: Scope


def require_role(principal: Principal, *roles: Role) -> None:
    """403 unless the principal has one of `roles` (for routes that are not patient-scoped)."""
    if principal.role not in roles:
        allowed = " or ".join(str(role) for role in roles)
        raise ForbiddenError(f"Only a {allowed} account may do this.")


def check_role_may(principal: Principal, action: PatientAction) -> Scope:
    """The scope within which the principal's role may do `action`; 403 if it never may."""
    scope = RULES[action].get(Role(principal.role))
    if scope is None:
        raise ForbiddenError(f"A {principal.role} account may not {_describe(action)}.")
    return scope


def authorize_patient(
    cur: Cursor, principal: Principal, patient_id: int | None, action: PatientAction
) -> PatientAccess:
    """Allow the action on the patient or raise 403/404 (see the module docstring).

    `patient_id` may be None when the caller looked up a resource that does not exist: the
    answer is then the same 404 an out-of-scope patient gets, after the same role check.
    """
    scope = check_role_may(principal, action)
    if patient_id is None:
        raise _not_found()
    statuses = _MATCHING_STATUSES.get(scope)
    assigned = "false"
    if statuses:
        assigned = caregiver_holds_matching("p.patient_id", "user_id", statuses)
    cur.execute(
        f"""
        SELECT p.patient_id, g.user_id AS guardian_user_id, {assigned} AS assigned
        FROM patients p JOIN guardians g ON g.guardian_id = p.guardian_id
        WHERE p.patient_id = %(patient_id)s
        """,  # noqa: S608  (constant fragments only)
        {"patient_id": patient_id, "user_id": principal.user_id},
    )
    row = cur.fetchone()
    if row is None or not _in_scope(scope, principal, row):
        raise _not_found()
    return PatientAccess(
        patient_id=row["patient_id"],
        guardian_user_id=row["guardian_user_id"],
        action=action,
        scope=scope,
    )


def _in_scope(scope: Scope, principal: Principal, row: dict[str, Any]) -> bool:
    if scope is Scope.ANY:
        return True
    if scope is Scope.OWNER:
        return bool(row["guardian_user_id"] == principal.user_id)
    return bool(row["assigned"])


def _not_found() -> NotFoundError:
    return NotFoundError("No such patient, or it is not in your care.")


def _describe(action: PatientAction) -> str:
    return {
        PatientAction.READ_PROFILE: "read this patient's profile",
        PatientAction.READ_CARE: "read this patient's care records",
        PatientAction.WRITE_CARE_LOG: "write care logs",
        PatientAction.READ_OFFER_SUMMARY: "read matching offers",
        PatientAction.READ_MATCHING: "read matching results",
        PatientAction.MANAGE: "change a patient's data",
        PatientAction.PLAN_VISITS: "plan this patient's visits",
        PatientAction.RECORD_VISIT: "record a visit",
        PatientAction.APPROVE_CORRECTION: "approve a visit correction",
        PatientAction.REVIEW_VISITS: "review visits or incidents",
        PatientAction.MANAGE_BENEFITS: "see or change long-term-care benefits",
    }[action]
