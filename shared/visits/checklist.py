"""The visit's checklist: the day's care-log activities, each done or not done with a reason.

`require_complete(uow, visit)` is what check-out asks: every required task has an outcome.
(Filled in by the checklist work; until then it requires nothing.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork
    from shared.visits.access import VisitRef


def require_complete(uow: UnitOfWork, visit: VisitRef) -> None:
    """Raise a 422 naming the tasks still without an outcome; nothing when all have one."""
    del uow, visit
