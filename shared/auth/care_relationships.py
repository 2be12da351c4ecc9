"""Which caregiver serves which patient: the one definition, as an SQL condition.

A caregiver serves a patient while it holds a matching with the patient in a status of
`SERVING` (`active`: the contract was accepted); a caregiver that was `selected` but has not
accepted yet only sees the offer (`OFFERED`). The authorization table (shared.auth.authorization)
and every query that lists "the caregiver's patients" (care, dashboard, patients) use
`caregiver_holds_matching`, so the rule is written once.
"""

from __future__ import annotations

from models.vocabularies import MatchingStatus

#: The statuses in which a caregiver serves the patient (reads and writes its care).
SERVING: tuple[MatchingStatus, ...] = (MatchingStatus.ACTIVE,)
#: The statuses in which a caregiver was offered the patient (reads the offer's summary).
OFFERED: tuple[MatchingStatus, ...] = (MatchingStatus.SELECTED, MatchingStatus.ACTIVE)


def caregiver_holds_matching(
    patient_id_sql: str,
    user_id_param: str = "caregiver_user_id",
    statuses: tuple[MatchingStatus, ...] = SERVING,
) -> str:
    """`EXISTS (...)`: the caregiver whose user id is the query parameter `user_id_param` holds
    a matching in one of `statuses` with the patient `patient_id_sql` (an SQL expression such
    as `p.patient_id`). Every piece is a constant of the caller's code, never request input."""
    if not patient_id_sql.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"not a column reference: {patient_id_sql!r}")
    if not user_id_param.replace("_", "").isalnum():
        raise ValueError(f"not a parameter name: {user_id_param!r}")
    codes = ", ".join(f"'{MatchingStatus(status).value}'" for status in statuses)
    # Constant fragments only (checked above): no request input reaches this text.
    return (
        "EXISTS (SELECT 1 FROM matching_results cr_m"  # noqa: S608
        " JOIN caregivers cr_c ON cr_c.caregiver_id = cr_m.caregiver_id"
        f" WHERE cr_m.patient_id = {patient_id_sql}"
        f" AND cr_c.user_id = %({user_id_param})s"
        f" AND cr_m.status IN ({codes}))"
    )
