"""The dashboard over HTTP on the served app (guardian and caregiver shapes, today's counts in
Korea's date, audit), and in process: one statement per panel whatever the number of patients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, cast

import pytest

from models.dates import korea_today
from models.vocabularies import Role
from shared.auth.principal import Actor, Principal
from shared.dashboard.service import get_dashboard
from shared.db import Database, get_database
from shared.errors import ForbiddenError
from shared.unit_of_work import UnitOfWork
from tests.factories import (
    PARTY_NAMES,
    Parties,
    TestUser,
    cursor,
    make_caregiver,
    make_day_schedule,
    make_guardian,
    make_matching,
    make_patient,
    make_user,
)

pytestmark = pytest.mark.integration

USER_FIELDS = {"user_id", "email", "name", "phone", "role", "gender", "created_at"}


def age_on(today: date, birth: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def dashboard_events(database_url: str, actor: TestUser) -> list[int]:
    """Patient ids of the actor's dashboard audit events, in order."""
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT patient_id FROM audit_events WHERE actor_user_id = %s"
            " AND action = 'view' AND resource_type = 'dashboard' ORDER BY event_id",
            (actor.user_id,),
        )
        return [row["patient_id"] for row in cur.fetchall()]


def set_contract(database_url: str, matching_id: int, start: date, end: date | None) -> None:
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE matching_results SET contract_start_date = %s, contract_end_date = %s"
            " WHERE matching_id = %s",
            (start, end, matching_id),
        )


# -- guardian -------------------------------------------------------------------------------------


def test_guardian_dashboard_shows_each_patient_with_matching_and_todays_care(
    app_server, database_url
):
    today = korea_today()
    with cursor(database_url) as cur:
        guardian = make_guardian(cur, name="김보호")
        cared = make_patient(cur, guardian, name="김할머니", birth_date=date(1940, 5, 1))
        waiting = make_patient(cur, guardian, name="김할아버지", care_level="grade_1")
        alone = make_patient(cur, guardian, name="김이모", care_level="none")
        active_caregiver = make_caregiver(cur, name="박간병")
        active_id = make_matching(cur, cared, active_caregiver, status="active")
        make_matching(cur, cared, make_caregiver(cur), status="completed")
        selected_caregiver = make_caregiver(cur, name="최간병")
        selected_id = make_matching(cur, waiting, selected_caregiver, status="selected")
        make_matching(cur, alone, make_caregiver(cur), status="recommended")
        # Today's confirmed care: 2 of 3 tasks, plus a completed day's 1 of 1.
        make_day_schedule(cur, cared, today, completed=(True, False, True))
        make_day_schedule(cur, cared, today, status="completed", completed=(True,))
        # Not counted: a draft, a cancelled day, yesterday, tomorrow.
        make_day_schedule(cur, cared, today, status="draft", completed=(True, True))
        make_day_schedule(cur, cared, today, status="cancelled", completed=(False,))
        make_day_schedule(cur, cared, today - timedelta(days=1), completed=(True,))
        make_day_schedule(cur, waiting, today + timedelta(days=1), completed=(False,))
        # Another guardian's patient never shows.
        make_patient(cur, make_guardian(cur))
    set_contract(database_url, active_id, today - timedelta(days=10), None)

    response = app_server.get("api/users/me/dashboard", headers=guardian.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"role", "user", "patients"}
    assert body["role"] == "guardian"
    assert set(body["user"]) == USER_FIELDS
    assert (body["user"]["user_id"], body["user"]["name"]) == (guardian.user_id, "김보호")
    # The month's benefit use against the cap (tests/integration/test_benefit_usage.py).
    usage = {p["patient_id"]: p.pop("benefit_usage") for p in body["patients"]}
    month = today.strftime("%Y-%m")
    assert usage[alone] == {
        "month": month, "used_won": 0, "cap_won": 0, "percent": None, "level": None,
        "level_label": None,
    }  # fmt: skip
    assert usage[waiting]["cap_won"] > usage[cared]["cap_won"] > 0  # 1등급 over 3등급
    assert body["patients"] == [
        {
            "patient_id": cared,
            "name": "김할머니",
            "age": age_on(today, date(1940, 5, 1)),
            "care_level": "grade_3",
            "active_matching": {
                "matching_id": active_id,
                "caregiver": {
                    "caregiver_id": active_caregiver.caregiver_id,
                    "name": "박간병",
                },
                "status": "active",
                "contract_start_date": (today - timedelta(days=10)).isoformat(),
                "contract_end_date": None,
            },
            "today": {"total": 4, "completed": 3},
        },
        {
            "patient_id": waiting,
            "name": "김할아버지",
            "age": age_on(today, date(1940, 5, 1)),
            "care_level": "grade_1",
            "active_matching": {
                "matching_id": selected_id,
                "caregiver": {
                    "caregiver_id": selected_caregiver.caregiver_id,
                    "name": "최간병",
                },
                "status": "selected",
                "contract_start_date": None,
                "contract_end_date": None,
            },
            "today": {"total": 0, "completed": 0},
        },
        {
            "patient_id": alone,
            "name": "김이모",
            "age": age_on(today, date(1940, 5, 1)),
            "care_level": "none",
            "active_matching": None,
            "today": {"total": 0, "completed": 0},
        },
    ]
    assert dashboard_events(database_url, guardian) == [cared, waiting, alone]


def test_an_active_matching_is_shown_before_a_selected_one(app_server, database_url):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient = make_patient(cur, guardian)
        make_matching(cur, patient, make_caregiver(cur), status="selected")
        active_id = make_matching(cur, patient, make_caregiver(cur), status="active")
    body = app_server.get("api/users/me/dashboard", headers=guardian.headers).json()
    assert body["patients"][0]["active_matching"]["matching_id"] == active_id


def test_guardian_without_profile_or_patients_has_an_empty_dashboard(app_server, database_url):
    with cursor(database_url) as cur:
        no_profile = make_user(cur, "guardian")
        no_patients = make_guardian(cur)
    for guardian in (no_profile, no_patients):
        response = app_server.get("api/users/me/dashboard", headers=guardian.headers)
        assert response.status_code == 200, response.text
        assert response.json()["patients"] == []
        assert response.json()["user"]["user_id"] == guardian.user_id
        assert dashboard_events(database_url, guardian) == []


# -- caregiver ------------------------------------------------------------------------------------


def test_caregiver_dashboard_shows_assignments_todays_schedules_offers_and_rating(
    app_server, database_url
):
    today = korea_today()
    with cursor(database_url) as cur:
        caregiver = make_caregiver(cur, name="박간병")
        guardian = make_guardian(cur)
        first = make_patient(cur, guardian, name="김할머니", region_code="SEOUL_MAPO")
        second = make_patient(cur, guardian, name="이할아버지", care_level="grade_2")
        offered = make_patient(cur, guardian, name="최할머니")
        finished = make_patient(cur, guardian, name="정할머니")
        cur.execute(
            "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, 'stroke'),"
            " (%s, 'dementia')",
            (first, first),
        )
        first_match = make_matching(cur, first, caregiver, status="active")
        second_match = make_matching(cur, second, caregiver, status="active")
        make_matching(cur, offered, caregiver, status="selected")
        make_matching(cur, finished, caregiver, status="completed")
        cur.execute(
            "UPDATE caregivers SET avg_rating = 4.25, total_reviews = 4 WHERE caregiver_id = %s",
            (caregiver.caregiver_id,),
        )
        morning = make_day_schedule(cur, first, today, completed=(True, False))
        done = make_day_schedule(cur, second, today, status="completed", completed=(True, True))
        empty = make_day_schedule(cur, second, today)
        # Not shown: drafts, cancelled days, other days, patients without an active matching.
        make_day_schedule(cur, first, today, status="draft", completed=(False,))
        make_day_schedule(cur, first, today, status="cancelled")
        make_day_schedule(cur, first, today + timedelta(days=1), completed=(False,))
        make_day_schedule(cur, offered, today, completed=(False,))
        make_day_schedule(cur, finished, today, completed=(False,))
    set_contract(database_url, first_match, today, today + timedelta(days=30))

    response = app_server.get("api/users/me/dashboard", headers=caregiver.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "role",
        "user",
        "active_assignments",
        "today_schedules",
        "pending_offers",
        "avg_rating",
        "total_reviews",
    }
    assert body["role"] == "caregiver"
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["user_id"] == caregiver.user_id
    age = age_on(today, date(1940, 5, 1))
    assert body["active_assignments"] == [
        {
            "matching_id": first_match,
            "patient_id": first,
            "patient": {
                "name": "김할머니",
                "age": age,
                "gender": "female",
                "care_level": "grade_3",
                "mobility_status": "independent",
                "region_code": "SEOUL_MAPO",
                "conditions": ["dementia", "stroke"],
            },
            "contract_start_date": today.isoformat(),
            "contract_end_date": (today + timedelta(days=30)).isoformat(),
        },
        {
            "matching_id": second_match,
            "patient_id": second,
            "patient": {
                "name": "이할아버지",
                "age": age,
                "gender": "female",
                "care_level": "grade_2",
                "mobility_status": "independent",
                "region_code": "SEOUL_GANGNAM",
                "conditions": [],
            },
            "contract_start_date": None,
            "contract_end_date": None,
        },
    ]
    day = today.isoformat()
    assert body["today_schedules"] == [
        {
            "schedule_id": morning,
            "patient_id": first,
            "schedule_date": day,
            "status": "scheduled",
            "total": 2,
            "completed": 1,
        },
        {
            "schedule_id": done,
            "patient_id": second,
            "schedule_date": day,
            "status": "completed",
            "total": 2,
            "completed": 2,
        },
        {
            "schedule_id": empty,
            "patient_id": second,
            "schedule_date": day,
            "status": "scheduled",
            "total": 0,
            "completed": 0,
        },
    ]
    assert body["pending_offers"] == 1
    assert (body["avg_rating"], body["total_reviews"]) == (4.25, 4)
    assert "care_address" not in response.text
    assert dashboard_events(database_url, caregiver) == [first, second]


def test_caregiver_without_profile_has_an_empty_dashboard(app_server, database_url):
    with cursor(database_url) as cur:
        caregiver = make_user(cur, "caregiver")
    response = app_server.get("api/users/me/dashboard", headers=caregiver.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in body if k not in ("user", "role")} == {
        "active_assignments": [],
        "today_schedules": [],
        "pending_offers": 0,
        "avg_rating": None,
        "total_reviews": 0,
    }


DASHBOARD_STATUS = {
    "anonymous": 401,
    "other_guardian": 200,
    "unassigned_caregiver": 200,
    "assigned_caregiver": 200,
    "owner": 200,
    "admin": 403,
}


@pytest.mark.parametrize("who", PARTY_NAMES)
def test_dashboard_authorization_matrix(app_server, database_url, parties: Parties, who):
    response = app_server.get("api/users/me/dashboard", headers=parties.headers(who))
    assert response.status_code == DASHBOARD_STATUS[who], response.text
    if response.status_code != 200:
        return
    body = response.json()
    user = getattr(parties, who)
    assert body["user"]["user_id"] == user.user_id
    # Only the owner and the active caregiver see (and are audited reading) the patient.
    sees_patient = who in ("owner", "assigned_caregiver")
    if body["role"] == "guardian":
        shown = [p["patient_id"] for p in body["patients"]]
    else:
        shown = [a["patient_id"] for a in body["active_assignments"]]
    assert (parties.patient_id in shown) is sees_patient
    assert (parties.patient_id in dashboard_events(database_url, user)) is sees_patient


def test_offered_caregiver_sees_the_offer_count_but_not_the_patient(app_server, parties: Parties):
    body = app_server.get("api/users/me/dashboard", headers=parties.offered_caregiver.headers)
    assert body.status_code == 200, body.text
    assert body.json()["pending_offers"] == 1
    assert body.json()["active_assignments"] == []
    assert "김환자" not in body.text


# -- statements per panel (in process) ------------------------------------------------------------


class CountingCursor:
    """A cursor that records every statement it runs and delegates everything else."""

    def __init__(self, cur: Any, statements: list[str]):
        self._cur = cur
        self._statements = statements

    def execute(self, sql: Any, params: Any = None) -> Any:
        self._statements.append(sql if isinstance(sql, str) else sql.decode())
        return self._cur.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class CountingDatabase:
    """The real database, handing out counting cursors."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @contextmanager
    def transaction(self, **kwargs: Any) -> Iterator[CountingCursor]:
        with get_database().transaction(**kwargs) as cur:
            yield CountingCursor(cur, self.statements)


def actor_of(user: TestUser) -> Actor:
    return Actor(Principal(user.user_id, Role(user.role), user.email, "x"), "req-dash", None)


def statements_for(user: TestUser, today: date) -> tuple[int, Any]:
    db = CountingDatabase()
    with UnitOfWork(actor_of(user), database=lambda: cast(Database, db)) as uow:
        dashboard = get_dashboard(uow, today=today)
    return len(db.statements), dashboard


def guardian_with(database_url: str, patients: int, today: date) -> TestUser:
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        for _ in range(patients):
            patient = make_patient(cur, guardian)
            make_matching(cur, patient, make_caregiver(cur), status="active")
            make_day_schedule(cur, patient, today, completed=(True, False))
    return guardian


def caregiver_with(database_url: str, patients: int, today: date) -> TestUser:
    with cursor(database_url) as cur:
        caregiver = make_caregiver(cur)
        for _ in range(patients):
            patient = make_patient(cur, make_guardian(cur))
            make_matching(cur, patient, caregiver, status="active")
            make_matching(cur, make_patient(cur, make_guardian(cur)), caregiver, status="selected")
            make_day_schedule(cur, patient, today, completed=(True, False))
    return caregiver


def test_guardian_dashboard_runs_the_same_statements_for_one_or_five_patients(
    app_env, database_url
):
    today = date(2026, 3, 2)
    one, _ = statements_for(guardian_with(database_url, 1, today), today)
    five, five_dashboard = statements_for(guardian_with(database_url, 5, today), today)
    # user, patients panel, audit events; the month's benefit use: the tariffs (7 reads), the
    # profiles and the visits of every patient at once
    assert one == five == 3 + 9
    assert len(five_dashboard.patients) == 5
    assert all(p.today.total == 2 and p.active_matching for p in five_dashboard.patients)


def test_caregiver_dashboard_runs_the_same_statements_for_one_or_five_patients(
    app_env, database_url
):
    today = date(2026, 3, 2)
    one, _ = statements_for(caregiver_with(database_url, 1, today), today)
    five, five_dashboard = statements_for(caregiver_with(database_url, 5, today), today)
    assert one == five == 5  # user, assignments, today's schedules, standing, audit events
    assert len(five_dashboard.active_assignments) == 5
    assert len(five_dashboard.today_schedules) == 5
    assert five_dashboard.pending_offers == 5


def test_the_dashboard_counts_the_day_it_is_given(app_env, database_url):
    day = date(2026, 3, 2)
    guardian = guardian_with(database_url, 1, day)
    _, on_the_day = statements_for(guardian, day)
    _, next_day = statements_for(guardian, day + timedelta(days=1))
    assert on_the_day.patients[0].today.model_dump() == {"total": 2, "completed": 1}
    assert next_day.patients[0].today.model_dump() == {"total": 0, "completed": 0}


def test_operators_have_no_dashboard(app_env, database_url):
    with cursor(database_url) as cur:
        admin = make_user(cur, "admin")
    with pytest.raises(ForbiddenError), UnitOfWork(actor_of(admin)) as uow:
        get_dashboard(uow)
