"""Continuity of care through the served app: `GET /api/patients/{id}/continuity` (figures
computed by hand from seeded visits, Korean day boundaries, the default period, 422s naming the
field, who may call it, the audit event) and the `continuity` of care reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from models.dates import korea_today
from tests.factories import (
    Parties,
    cursor,
    make_caregiver,
    make_matching,
    make_schedule,
    make_visit,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

JANUARY = "from=2030-01-01&to=2030-01-31"
NO_VISITS = {"index": None, "visits": 0, "caregivers": 0, "most_frequent_share": None}


def utc(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=UTC)


def seed_january(database_url: str, parties: Parties) -> None:
    """Counted (completed, planned to start on a Korean day of January 2030): the assigned
    caregiver 3 (the last at 23:30 KST on the 31st), a former caregiver 1, so N = 4,
    (9 + 1 - 4) / (4 * 3) = 0.5, and the most frequent share 3 / 4. Left out: a missed and a
    cancelled visit, one at 00:30 KST on 1 February (still 31 January in UTC), one in December."""
    with cursor(database_url) as cur:
        former = make_caregiver(cur)
        former_matching = make_matching(cur, parties.patient_id, former, status="completed")

        def add(start: datetime, caregiver=parties.assigned_caregiver, **kw: Any) -> None:
            local_day = (start + timedelta(hours=9)).date()
            schedule_id = make_schedule(cur, parties.patient_id, local_day)
            make_visit(cur, schedule_id, caregiver, planned_start=start, **kw)

        def done(start: datetime, caregiver=parties.assigned_caregiver, **kw: Any) -> None:
            add(
                start,
                caregiver,
                check_in_at=start,
                check_out_at=start + timedelta(hours=1),
                **kw,
            )

        done(utc(5, 1))
        done(utc(12, 1))
        done(utc(31, 14, 30))  # 23:30 on 31 January in Seoul
        done(utc(20, 1), former, matching_id=former_matching)
        add(utc(21, 1), status="missed")
        add(utc(22, 1), status="cancelled")
        done(utc(31, 15, 30))  # 00:30 on 1 February in Seoul
        done(datetime(2029, 12, 20, 1, tzinfo=UTC))


def get(app_server, parties: Parties, query: str = JANUARY, who: str = "owner"):
    return app_server.get(
        f"api/patients/{parties.patient_id}/continuity?{query}", headers=parties.headers(who)
    )


def test_the_index_of_a_month_matches_the_hand_computed_figures(
    app_server, database_url: str, parties: Parties
) -> None:
    seed_january(database_url, parties)

    response = get(app_server, parties)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "patient_id": parties.patient_id,
        "start_date": "2030-01-01",
        "end_date": "2030-01-31",
        "index": 0.5,
        "visits": 4,
        "caregivers": 2,
        "most_frequent_share": 0.75,
    }
    february = get(app_server, parties, "from=2030-02-01&to=2030-02-28").json()
    assert (february["visits"], february["index"], february["most_frequent_share"]) == (
        1,
        None,
        1.0,
    )
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, actor_user_id, detail FROM audit_events"
            " WHERE patient_id = %s AND resource_type = 'continuity' ORDER BY event_id",
            (parties.patient_id,),
        )
        events = cur.fetchall()
    assert [(e["action"], e["actor_user_id"]) for e in events] == [
        ("view", parties.owner.user_id),
        ("view", parties.owner.user_id),
    ]
    assert events[0]["detail"] == {"from": "2030-01-01", "to": "2030-01-31"}


def test_the_default_period_is_the_90_days_up_to_today(app_server, parties: Parties) -> None:
    response = get(app_server, parties, "")

    assert response.status_code == 200, response.text
    body = response.json()
    today = korea_today()
    assert body["end_date"] == today.isoformat()
    assert date.fromisoformat(body["start_date"]) == today - timedelta(days=89)
    assert {k: body[k] for k in NO_VISITS} == NO_VISITS
    only_to = get(app_server, parties, "to=2030-03-31").json()
    assert (only_to["start_date"], only_to["end_date"]) == ("2030-01-01", "2030-03-31")
    only_from = get(app_server, parties, "from=2020-01-01").json()
    assert (only_from["start_date"], only_from["end_date"]) == ("2020-01-01", "2020-12-31")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2030-02-01&to=2030-01-31", "to"),
        ("from=2030-01-01&to=2031-01-02", "to"),
        ("from=2030-13-01&to=2030-12-31", "from"),
        ("from=20300101", "from"),
    ],
)
def test_bad_periods_are_422_naming_the_field(
    app_server, database_url: str, parties: Parties, query: str, field: str
) -> None:
    response = get(app_server, parties, query)

    problem = assert_problem(response, 422, "validation_error")
    assert ["query", field] in [error["loc"] for error in problem["errors"]], problem
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM audit_events"
            " WHERE patient_id = %s AND resource_type = 'continuity'",
            (parties.patient_id,),
        )
        assert cur.fetchone()["n"] == 0


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("other_guardian", 404),
        ("unassigned_caregiver", 404),
        ("offered_caregiver", 404),
        ("assigned_caregiver", 200),
        ("owner", 200),
        ("admin", 200),
    ],
)
def test_who_may_read_continuity(
    app_server, database_url: str, parties: Parties, who: str, status: int
) -> None:
    response = get(app_server, parties, who=who)

    assert response.status_code == status, response.text
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM audit_events"
            " WHERE patient_id = %s AND resource_type = 'continuity'",
            (parties.patient_id,),
        )
        assert cur.fetchone()["n"] == (1 if status == 200 else 0)


def test_a_missing_patient_is_404(app_server, parties: Parties) -> None:
    response = app_server.get(
        "api/patients/987654321987/continuity", headers=parties.headers("owner")
    )

    assert_problem(response, 404, "not_found")


def test_care_reports_show_the_period_continuity(
    app_server, database_url: str, parties: Parties
) -> None:
    seed_january(database_url, parties)
    body = {"report_type": "monthly", "start_date": "2030-01-01", "end_date": "2030-01-31"}

    created = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/care-reports",
        json=body,
        headers=parties.headers("owner"),
    )
    week = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/care-reports",
        json={"report_type": "weekly", "start_date": "2030-01-01", "end_date": "2030-01-07"},
        headers=parties.headers("owner"),
    )

    assert created.status_code == 201, created.text
    assert week.status_code == 201, week.text
    month_figures = {"index": 0.5, "visits": 4, "caregivers": 2, "most_frequent_share": 0.75}
    assert created.json()["continuity"] == month_figures
    one_visit = {"index": None, "visits": 1, "caregivers": 1, "most_frequent_share": 1.0}
    assert week.json()["continuity"] == one_visit
    listed = app_server.get(
        f"api/patients/{parties.patient_id}/care-reports",
        headers=parties.headers("assigned_caregiver"),
    )
    assert listed.status_code == 200, listed.text
    assert [r["continuity"] for r in listed.json()["items"]] == [one_visit, month_figures]
