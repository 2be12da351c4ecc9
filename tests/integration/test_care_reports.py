"""Care reports: numbers computed in SQL checked against a hand-computed fixture, and access."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.factories import (
    PARTY_NAMES,
    Parties,
    cursor,
    make_care_log,
    make_guardian,
    make_patient,
    make_schedule,
)

pytestmark = pytest.mark.integration

WEEK = {"report_type": "weekly", "start_date": "2026-06-01", "end_date": "2026-06-07"}


def seed_week(database_url: str, patient_id: int) -> None:
    """The fixture the expected numbers below are computed from by hand.

    Counted (confirmed days in the period): medication 2 of 3, meal 3 of 4, vital_check 2 of 2,
    exercise 0 of 1 -> 66.67 %, 75 %, 100 %, 0 %, overall 7 of 10 = 70 %. Readings: systolic
    120 and 150, diastolic 80 and 95, pulse 70 and 90, temperature 36.5 once. Left out: a
    cancelled day, a draft day, a day after the period, and another patient's day.
    """
    with cursor(database_url) as cur:
        day1 = make_schedule(cur, patient_id, date(2026, 6, 1))
        make_care_log(cur, day1, category="medication", is_completed=True)
        make_care_log(cur, day1, category="medication")
        for _ in range(3):
            make_care_log(cur, day1, category="meal", is_completed=True)
        make_care_log(
            cur,
            day1,
            category="vital_check",
            is_completed=True,
            vitals={"systolic": 120, "diastolic": 80, "pulse": 70},
        )
        day2 = make_schedule(cur, patient_id, date(2026, 6, 3), status="completed")
        make_care_log(cur, day2, category="medication", is_completed=True)
        make_care_log(cur, day2, category="meal")
        make_care_log(cur, day2, category="exercise")
        make_care_log(
            cur,
            day2,
            category="vital_check",
            is_completed=True,
            vitals={"systolic": 150, "diastolic": 95, "pulse": 90, "temperature_c": 36.5},
        )
        cancelled = make_schedule(cur, patient_id, date(2026, 6, 4), status="cancelled")
        make_care_log(cur, cancelled, category="medication")
        make_care_log(cur, cancelled, category="vital_check", vitals={"systolic": 200})
        draft = make_schedule(cur, patient_id, date(2026, 6, 5), status="draft")
        make_care_log(cur, draft, category="meal")
        later = make_schedule(cur, patient_id, date(2026, 6, 8))
        make_care_log(cur, later, category="medication", vitals={"pulse": 150})
        stranger = make_patient(cur, make_guardian(cur))
        make_care_log(cur, make_schedule(cur, stranger, date(2026, 6, 2)), category="medication")


def report_rows(database_url: str, patient_id: int) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT report_id, medication_completion_rate, created_by FROM care_reports"
            " WHERE patient_id = %s ORDER BY report_id",
            (patient_id,),
        )
        return cur.fetchall()


def audit_rows(database_url: str, patient_id: int) -> list[dict]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_id, actor_user_id FROM audit_events"
            " WHERE patient_id = %s AND resource_type = 'care_report' ORDER BY event_id",
            (patient_id,),
        )
        return cur.fetchall()


def create(app_server, parties: Parties, body: dict, who: str = "owner"):
    return app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/care-reports",
        json=body,
        headers=parties.headers(who),
    )


def test_a_weekly_report_matches_the_hand_computed_numbers(
    app_server, parties: Parties, database_url
):
    seed_week(database_url, parties.patient_id)
    response = create(app_server, parties, WEEK)
    assert response.status_code == 201, response.text
    report = response.json()
    assert {k: report[k] for k in report if k not in ("report_id", "created_at")} == {
        "patient_id": parties.patient_id,
        "report_type": "weekly",
        "start_date": "2026-06-01",
        "end_date": "2026-06-07",
        "medication_completion_rate": 66.67,
        "meal_completion_rate": 75.0,
        "overall_completion_rate": 70.0,
        "completion_by_category": {
            "exercise": 0.0,
            "meal": 75.0,
            "medication": 66.67,
            "vital_check": 100.0,
        },
        "vitals": {
            "systolic": {"min": 120.0, "avg": 135.0, "max": 150.0, "count": 2},
            "diastolic": {"min": 80.0, "avg": 87.5, "max": 95.0, "count": 2},
            "pulse": {"min": 70.0, "avg": 80.0, "max": 90.0, "count": 2},
            "temperature_c": {"min": 36.5, "avg": 36.5, "max": 36.5, "count": 1},
        },
        "summary": (
            "주간 돌봄 리포트(2026-06-01 ~ 2026-06-07)입니다. 복약 완료율은 66.67%,"
            " 식사 완료율은 75%, 전체 완료율은 70%입니다. 측정된 활력징후는"
            " 수축기 혈압 평균 135mmHg(최저 120, 최고 150, 2회 측정),"
            " 이완기 혈압 평균 87.5mmHg(최저 80, 최고 95, 2회 측정),"
            " 맥박 평균 80회/분(최저 70, 최고 90, 2회 측정),"
            " 체온 평균 36.5℃(최저 36.5, 최고 36.5, 1회 측정)입니다."
        ),
        "suggestions": report["suggestions"],
        "source": "template",
        # No visits in the period (tests/integration/test_continuity_api.py has some).
        "continuity": {"index": None, "visits": 0, "caregivers": 0, "most_frequent_share": None},
    }
    suggestions = report["suggestions"]
    assert len(suggestions) == 5
    assert suggestions[0].startswith("복약 완료율이 66.67%로 낮습니다.")
    assert suggestions[1].startswith("식사 완료율이 75%로 낮습니다.")
    assert suggestions[2].startswith("운동 활동 완료율이 0%입니다.")
    assert "수축기 혈압" in suggestions[3]
    assert "최고 150mmHg" in suggestions[3]
    assert "이완기 혈압" in suggestions[4]
    assert "최고 95mmHg" in suggestions[4]
    assert report_rows(database_url, parties.patient_id) == [
        {
            "report_id": report["report_id"],
            "medication_completion_rate": Decimal("66.67"),
            "created_by": parties.owner.user_id,
        }
    ]
    assert audit_rows(database_url, parties.patient_id) == [
        {
            "action": "create",
            "resource_id": str(report["report_id"]),
            "actor_user_id": parties.owner.user_id,
        }
    ]


def test_a_period_without_logs_has_no_rates(app_server, parties: Parties):
    body = {"report_type": "monthly", "start_date": "2026-07-01", "end_date": "2026-07-31"}
    report = create(app_server, parties, body).json()
    assert report["medication_completion_rate"] is None
    assert report["meal_completion_rate"] is None
    assert report["overall_completion_rate"] is None
    assert (report["completion_by_category"], report["vitals"]) == ({}, {})
    assert "기록된 돌봄 활동이 없습니다" in report["summary"]
    assert report["suggestions"] == [
        "기록된 돌봄 활동이 없습니다. 돌봄 일정을 등록하고 활동을 기록해 주세요."
    ]


def test_good_care_earns_no_suggestions(app_server, parties: Parties, database_url):
    with cursor(database_url) as cur:
        day = make_schedule(cur, parties.patient_id, date(2026, 6, 2))
        make_care_log(cur, day, category="medication", is_completed=True)
        make_care_log(cur, day, category="hygiene", is_completed=True)
        make_care_log(cur, day, category="vital_check", vitals={"systolic": 118, "pulse": 66})
    report = create(app_server, parties, WEEK).json()
    assert report["medication_completion_rate"] == 100.0
    assert report["meal_completion_rate"] is None
    assert report["overall_completion_rate"] == 66.67
    assert report["suggestions"] == [
        "활력징후 활동 완료율이 0%입니다. 일정과 시간대가 무리하지 않은지 확인해 보세요."
    ]
    assert "식사 기록 없음" in report["summary"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {("body", "report_type"), ("body", "start_date"), ("body", "end_date")}),
        ({**WEEK, "report_type": "daily"}, {("body", "report_type")}),
        ({**WEEK, "end_date": "2026-05-31"}, {("body", "end_date")}),
        ({**WEEK, "end_date": "2026-06-08"}, {("body", "end_date")}),  # 8 days
        (
            {"report_type": "monthly", "start_date": "2026-07-01", "end_date": "2026-08-01"},
            {("body", "end_date")},
        ),  # 32 days
        ({**WEEK, "start_date": "2026-6-1"}, {("body", "start_date")}),
        ({**WEEK, "source": "ai"}, {("body", "source")}),
    ],
)
def test_bad_periods_are_422_and_write_nothing(
    app_server, parties: Parties, database_url, body, fields
):
    response = create(app_server, parties, body)
    assert response.status_code == 422, response.text
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == fields
    assert report_rows(database_url, parties.patient_id) == []
    assert audit_rows(database_url, parties.patient_id) == []


@pytest.mark.parametrize(
    ("who", "status"),
    list(zip(PARTY_NAMES, (401, 404, 403, 403, 201, 403), strict=True)),
)
def test_only_the_owner_creates_reports(app_server, parties: Parties, database_url, who, status):
    response = create(app_server, parties, WEEK, who)
    assert response.status_code == status, response.text
    assert len(report_rows(database_url, parties.patient_id)) == (1 if status == 201 else 0)


def test_reports_are_listed_newest_first_and_paged(app_server, parties: Parties, database_url):
    ids = [create(app_server, parties, WEEK).json()["report_id"] for _ in range(3)]
    url = f"api/patients/{parties.patient_id}/care-reports"
    listed = app_server.get(url, headers=parties.assigned_caregiver.headers).json()
    assert listed["total"] == 3
    assert [r["report_id"] for r in listed["items"]] == ids[::-1]
    page = app_server.get(
        url, params={"limit": 1, "offset": 1}, headers=parties.owner.headers
    ).json()
    assert ([r["report_id"] for r in page["items"]], page["total"]) == ([ids[1]], 3)
    views = [e for e in audit_rows(database_url, parties.patient_id) if e["action"] == "view"]
    assert [e["resource_id"] for e in views] == [str(i) for i in ids[::-1]] + [str(ids[1])]


@pytest.mark.parametrize(
    ("who", "status"),
    list(zip(PARTY_NAMES, (401, 404, 404, 200, 200, 200), strict=True)),
)
def test_who_reads_reports(app_server, parties: Parties, database_url, who, status):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/care-reports", headers=parties.headers(who)
    )
    assert response.status_code == status, response.text
    views = [e for e in audit_rows(database_url, parties.patient_id) if e["action"] == "view"]
    if status == 200:
        assert response.json() == {"items": [], "total": 0}
        assert [(e["resource_id"], e["actor_user_id"]) for e in views] == [
            (None, getattr(parties, who).user_id)
        ]
    else:
        assert views == []


def test_bad_paging_is_422(app_server, parties: Parties):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/care-reports",
        params={"limit": "101", "offset": "-1"},
        headers=parties.owner.headers,
    )
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("query", "limit"),
        ("query", "offset"),
    }
