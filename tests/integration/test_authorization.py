"""The authorization module against a real database: every action, every kind of caller."""

from __future__ import annotations

import pytest

from models.vocabularies import Role
from shared.auth.authorization import RULES, PatientAction, authorize_patient, require_role
from shared.auth.principal import Principal
from shared.errors import ForbiddenError, NotFoundError
from tests.factories import Parties, cursor

pytestmark = pytest.mark.integration

A = PatientAction
# Expected answer per action for: other_guardian, unassigned_caregiver, offered_caregiver
# (selected matching), assigned_caregiver (active matching), owner, admin.
MATRIX = {
    A.READ_PROFILE: (404, 404, 404, 200, 200, 200),
    A.READ_CARE: (404, 404, 404, 200, 200, 200),
    A.WRITE_CARE_LOG: (404, 404, 404, 200, 200, 403),
    A.READ_OFFER_SUMMARY: (404, 404, 200, 200, 200, 200),
    A.READ_MATCHING: (404, 403, 403, 403, 200, 200),
    A.MANAGE: (404, 403, 403, 403, 200, 403),
    A.PLAN_VISITS: (404, 403, 403, 403, 200, 200),
    A.RECORD_VISIT: (403, 404, 404, 200, 403, 403),
    A.APPROVE_CORRECTION: (404, 403, 403, 403, 200, 200),
    A.REVIEW_VISITS: (403, 403, 403, 403, 403, 200),
    A.MANAGE_BENEFITS: (404, 403, 403, 403, 200, 200),
}
WHO = (
    "other_guardian",
    "unassigned_caregiver",
    "offered_caregiver",
    "assigned_caregiver",
    "owner",
    "admin",
)


def principal(user) -> Principal:
    return Principal(user_id=user.user_id, role=user.role, email=user.email, name="x")


def outcome(database_url: str, user, patient_id: int | None, action: PatientAction) -> int:
    with cursor(database_url) as cur:
        try:
            access = authorize_patient(cur, principal(user), patient_id, action)
        except NotFoundError:
            return 404
        except ForbiddenError:
            return 403
    assert access.patient_id == patient_id
    return 200


def test_the_matrix_covers_every_action():
    assert set(MATRIX) == set(PatientAction) == set(RULES)


@pytest.mark.parametrize("action", list(PatientAction))
def test_each_caller_gets_what_the_rules_say(parties: Parties, database_url, action):
    got = tuple(
        outcome(database_url, getattr(parties, who), parties.patient_id, action) for who in WHO
    )
    assert dict(zip(WHO, got, strict=True)) == dict(zip(WHO, MATRIX[action], strict=True))


@pytest.mark.parametrize("action", list(PatientAction))
def test_a_missing_patient_looks_like_an_out_of_scope_one(parties: Parties, database_url, action):
    """404 for a patient that does not exist, except where the role may never act (403)."""
    for who, expected in zip(WHO, MATRIX[action], strict=True):
        got = outcome(database_url, getattr(parties, who), 2**62, action)
        assert got == (403 if expected == 403 else 404), (who, action)


def test_caregiver_access_ends_with_the_matching(parties: Parties, database_url):
    assert outcome(database_url, parties.assigned_caregiver, parties.patient_id, A.READ_CARE) == 200
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE matching_results SET status = 'completed' WHERE matching_id = %s",
            (parties.matching_id,),
        )
    assert outcome(database_url, parties.assigned_caregiver, parties.patient_id, A.READ_CARE) == 404


def test_require_role(parties: Parties):
    require_role(principal(parties.admin), Role.ADMIN)
    with pytest.raises(ForbiddenError):
        require_role(principal(parties.owner), Role.ADMIN, Role.CAREGIVER)
