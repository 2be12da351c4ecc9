"""Who may act on one visit: the patient's authorization rules, plus "only the visit's own
caregiver records it".

Every visit-scoped service starts with `visit_access(uow, visit_id, action)`. A visit that does
not exist, a patient out of the caller's scope, and (for `RECORD_VISIT`) a visit served by
another caregiver of the same patient all answer the same 404, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from models.vocabularies import Role, VisitStatus
from shared.auth.authorization import PatientAccess, PatientAction
from shared.errors import NotFoundError

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

_VISIT = """
SELECT v.visit_id, v.patient_id, v.schedule_id, v.matching_id, v.caregiver_id,
       c.user_id AS caregiver_user_id, v.status, v.planned_start, v.planned_end,
       v.check_in_at, v.check_out_at, v.locked_at
FROM visits v JOIN caregivers c ON c.caregiver_id = v.caregiver_id
WHERE v.visit_id = %(visit_id)s
"""


@dataclass(frozen=True)
class VisitRef:
    """The facts about a visit every visit-scoped rule needs, read with its authorization."""

    visit_id: int
    patient_id: int
    schedule_id: int
    matching_id: int
    caregiver_id: int
    caregiver_user_id: int
    status: VisitStatus
    planned_start: datetime
    planned_end: datetime
    check_in_at: datetime | None
    check_out_at: datetime | None
    locked_at: datetime | None
    access: PatientAccess

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


def visit_access(
    uow: UnitOfWork, visit_id: int, action: PatientAction, *, for_update: bool = False
) -> VisitRef:
    """The visit, if the caller may do `action` to it; 403/404 otherwise (module docstring).

    `for_update` locks the visit's row until the transaction ends (check-in, check-out and
    corrections change it; two phones replaying at once then take turns).
    """
    uow.cursor.execute(_VISIT + (" FOR UPDATE OF v" if for_update else ""), {"visit_id": visit_id})
    row = uow.cursor.fetchone()
    access = uow.authorize(row["patient_id"] if row else None, action)
    if row is None:  # pragma: no cover - authorize raised already
        raise _not_found()
    principal = uow.principal
    recording = principal.role == Role.CAREGIVER and action is PatientAction.RECORD_VISIT
    if recording and row["caregiver_user_id"] != principal.user_id:
        raise _not_found()
    return VisitRef(
        visit_id=row["visit_id"],
        patient_id=row["patient_id"],
        schedule_id=row["schedule_id"],
        matching_id=row["matching_id"],
        caregiver_id=row["caregiver_id"],
        caregiver_user_id=row["caregiver_user_id"],
        status=VisitStatus(row["status"]),
        planned_start=row["planned_start"],
        planned_end=row["planned_end"],
        check_in_at=row["check_in_at"],
        check_out_at=row["check_out_at"],
        locked_at=row["locked_at"],
        access=access,
    )


def _not_found() -> NotFoundError:
    return NotFoundError("No such visit, or it is not in your care.")
