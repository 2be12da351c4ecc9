"""Care logs on a draft schedule (review item 16): a draft belongs to an unconfirmed care plan, so
the API neither adds nor changes its care logs (409, as on a cancelled day). The care-plan flow
writes a draft's tasks through the repository (tests/integration/test_ai_care_plans.py)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import Parties, cursor, make_care_log, make_schedule
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

DAY = date(2026, 6, 8)


def logs_of(database_url: str, schedule_id: int) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT task_name, is_completed, note FROM care_logs WHERE schedule_id = %s"
            " ORDER BY care_log_id",
            (schedule_id,),
        )
        return list(cur.fetchall())


@pytest.mark.parametrize("who", ["owner", "assigned_caregiver"])
def test_no_new_care_logs_on_a_draft_schedule(app_server, parties: Parties, database_url, who):
    with cursor(database_url) as cur:
        draft = make_schedule(cur, parties.patient_id, DAY, status="draft")
    response = app_server.request(
        "POST",
        f"api/schedules/{draft}/care-logs",
        json={"category": "meal", "task_name": "점심", "assignee": "family"},
        headers=parties.headers(who),
    )
    assert "draft" in assert_problem(response, 409, "conflict")["detail"]
    assert logs_of(database_url, draft) == []


@pytest.mark.parametrize(
    ("who", "assignee"), [("owner", "family"), ("assigned_caregiver", "caregiver")]
)
def test_a_draft_schedules_care_logs_do_not_change(
    app_server, parties: Parties, database_url, who, assignee
):
    with cursor(database_url) as cur:
        draft = make_schedule(cur, parties.patient_id, DAY, status="draft")
        log_id = make_care_log(cur, draft, assignee=assignee)
    response = app_server.request(
        "PATCH",
        f"api/care-logs/{log_id}",
        json={"is_completed": True, "note": "했어요"},
        headers=parties.headers(who),
    )
    assert "draft" in assert_problem(response, 409, "conflict")["detail"]
    assert logs_of(database_url, draft) == [
        {"task_name": "돌봄 활동", "is_completed": False, "note": None}
    ]
