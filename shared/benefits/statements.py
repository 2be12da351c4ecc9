"""The monthly statement (급여비용 명세) as the API serves it: authorized (owning guardian,
operators) and audited; the figures come from shared.benefits.pricing.price_month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from models.benefits import MonthStatement
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.benefits.pricing import price_month
from shared.benefits.tariffs import MissingTariffError
from shared.errors import FieldError, ValidationFailedError
from shared.visit_records.builder import Month

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

RESOURCE = "benefit_statement"


def parse_month(text: str, now: datetime | None = None) -> Month:
    """The `{month}` path segment: YYYY-MM, not after this Korean month; 422 otherwise."""
    try:
        month = Month.parse(text)
    except ValueError as exc:
        raise ValidationFailedError([FieldError(loc=("path", "month"), msg=str(exc))]) from None
    if month.first_day > Month.containing(now or datetime.now(UTC)).first_day:
        raise ValidationFailedError(
            [FieldError(loc=("path", "month"), msg="a month that has not begun has no statement")]
        )
    return month


def get_statement(uow: UnitOfWork, patient_id: int, month_text: str) -> MonthStatement:
    """The month's statement (owner guardian, operators); audited as a view."""
    month = parse_month(month_text)
    uow.authorize(patient_id, PatientAction.MANAGE_BENEFITS)
    try:
        result = price_month(uow, patient_id, month)
    except MissingTariffError:
        raise ValidationFailedError(
            [FieldError(loc=("path", "month"), msg="no long-term-care tariffs for this month")]
        ) from None
    uow.audit(
        AuditAction.VIEW,
        RESOURCE,
        patient_id=patient_id,
        resource_id=f"{patient_id}/{month.text}",
        detail={"month": month.text, "visits": result.visits_counted},
    )
    return result
