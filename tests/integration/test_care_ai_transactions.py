"""Care reports, care plans and meal plans hold no transaction while AI writes, and store what
it wrote in a second transaction that authorises again (the services through a unit of work)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from models.care import CareReportCreate
from models.care_plans import CarePlanCreate
from models.dates import korea_today
from models.meal_plans import MealPlanCreate
from models.vocabularies import Role
from shared.ai import care_plans as ai_care_plans
from shared.ai import meal_plans as ai_meal_plans
from shared.ai import report_summary
from shared.auth.principal import Actor, Principal
from shared.care import service as care_service
from shared.care_plans import service as care_plans_service
from shared.errors import NotFoundError
from shared.meal_plans import service as meal_plans_service
from shared.unit_of_work import UnitOfWork
from tests.factories import Parties, cursor

pytestmark = pytest.mark.integration

TOMORROW = korea_today() + timedelta(days=1)


def owner_of(parties: Parties) -> Actor:
    owner = parties.owner
    return Actor(Principal(owner.user_id, Role.GUARDIAN, owner.email, "owner"), "req", None)


def report(uow: UnitOfWork, patient_id: int) -> object:
    body = CareReportCreate.model_validate(
        {"report_type": "weekly", "start_date": "2026-06-01", "end_date": "2026-06-07"}
    )
    return care_service.create_care_report(uow, patient_id, body)


def care_plan(uow: UnitOfWork, patient_id: int) -> object:
    body = CarePlanCreate.model_validate({"start_date": TOMORROW.isoformat(), "days": 2})
    return care_plans_service.create_care_plan(uow, patient_id, body)


def meal_plan(uow: UnitOfWork, patient_id: int) -> object:
    body = MealPlanCreate.model_validate(
        {"date": TOMORROW.isoformat(), "meal_types": ["breakfast", "lunch"]}
    )
    return meal_plans_service.create_meal_plans(uow, patient_id, body)


#: (the service, the module whose `write` it calls, the table it stores into)
CASES = [
    pytest.param(report, report_summary, "care_reports", id="care report"),
    pytest.param(care_plan, ai_care_plans, "care_plans", id="care plan"),
    pytest.param(meal_plan, ai_meal_plans, "meal_plans", id="meal plan"),
]


def stored(database_url: str, table: str, patient_id: int) -> int:
    with cursor(database_url) as cur:
        cur.execute(
            f"SELECT count(*) AS n FROM {table} WHERE patient_id = %s",
            (patient_id,),
        )
        return int(cur.fetchone()["n"])


def spy_on_write(monkeypatch: pytest.MonkeyPatch, module: Any, during: Callable[[], None]) -> None:
    """Replace `module.write` by one that calls `during()` before it writes."""
    real = module.write

    def write(*args: Any, **kwargs: Any) -> Any:
        during()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "write", write)


@pytest.mark.parametrize(("service", "module", "table"), CASES)
def test_ai_writes_with_no_transaction_open(
    app_env, parties: Parties, database_url, monkeypatch, service, module, table
):
    in_transaction: list[bool] = []
    with UnitOfWork(owner_of(parties)) as uow:
        spy_on_write(monkeypatch, module, lambda: in_transaction.append(uow.in_transaction))
        service(uow, parties.patient_id)
    assert in_transaction == [False]
    assert stored(database_url, table, parties.patient_id) > 0


@pytest.mark.parametrize(("service", "module", "table"), CASES)
def test_the_second_transaction_authorises_again(
    app_env, parties: Parties, database_url, monkeypatch, service, module, table
):
    """The patient is handed to another guardian while AI writes: nothing is stored, 404."""

    def hand_over() -> None:
        with cursor(database_url) as cur:
            cur.execute(
                "INSERT INTO guardians (user_id, address) VALUES (%s, 'elsewhere')"
                " ON CONFLICT (user_id) DO NOTHING",
                (parties.other_guardian.user_id,),
            )
            cur.execute(
                "UPDATE patients SET guardian_id ="
                " (SELECT guardian_id FROM guardians WHERE user_id = %s) WHERE patient_id = %s",
                (parties.other_guardian.user_id, parties.patient_id),
            )

    spy_on_write(monkeypatch, module, hand_over)
    with pytest.raises(NotFoundError), UnitOfWork(owner_of(parties)) as uow:
        service(uow, parties.patient_id)
    assert stored(database_url, table, parties.patient_id) == 0
