"""The month's use of the long-term-care benefit against the cap: the guardian's dashboard
panel, the notifications at 80 % and 100 % (once each), and the warnings of a new schedule or a
confirmed care plan that would pass the cap (by how much), estimated with the same pricing."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from models.benefits import LtcProfile
from models.dates import KOREA, korea_today
from shared.benefits.pricing import VerifiedVisit, statement
from shared.benefits.tariffs import TariffBook
from shared.benefits.usage_alerts import run_alerts
from shared.visit_records.builder import Month
from tests.factories import Parties, cursor, make_schedule, make_visit
from tests.manage_cli import logged_events, run_manage, service_env

pytestmark = pytest.mark.integration

BOOK = TariffBook.from_data_files()
MAY_2025 = Month(date(2025, 5, 1))
#: Weekdays of May 2025 that are not public holidays (05-05 and 05-06 are).
WEEKDAYS = [
    d
    for d in (date(2025, 5, n) for n in range(1, 32))
    if d.weekday() < 5 and not BOOK.is_holiday(d)
]


def set_grade(database_url: str, patient_id: int, grade: str) -> None:
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE patients SET care_level = %s WHERE patient_id = %s", (grade, patient_id)
        )


def profile(patient_id: int, grade: str) -> LtcProfile:
    return LtcProfile(
        profile_id=None,
        patient_id=patient_id,
        grade=grade,
        grade_label=grade,
        recognition_number=None,
        recognition_valid_from=None,
        recognition_valid_to=None,
        copay_percent=15,
        copay_label="15",
        effective_from=None,
        source="care_level",
    )


def deliver(database_url: str, parties: Parties, days: list[date], minutes: int = 240) -> None:
    """A delivered visit from 09:00 (no surcharge) on each day."""
    with cursor(database_url) as cur:
        for day in days:
            start = datetime.combine(day, datetime.min.time(), KOREA).replace(hour=9)
            schedule = make_schedule(cur, parties.patient_id, day, status="completed")
            make_visit(
                cur,
                schedule,
                parties.assigned_caregiver,
                planned_start=start,
                check_in_at=start,
                check_out_at=start + timedelta(minutes=minutes),
            )


def cap_notices(database_url: str, patient_id: int) -> list[tuple[str, int, str]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT event_type, recipient_user_id, channel FROM notification_outbox"
            " WHERE patient_id = %s AND event_type LIKE 'benefit_cap_%%'"
            " ORDER BY event_type, channel",
            (patient_id,),
        )
        return [(r["event_type"], r["recipient_user_id"], r["channel"]) for r in cur.fetchall()]


def test_the_guardian_is_told_at_80_and_at_100_percent_once_each(
    app_env: Any, parties: Parties, database_url: str
) -> None:
    set_grade(database_url, parties.patient_id, "grade_5")
    first = WEEKDAYS[0]
    fee = BOOK.band("home_visit_care", 240, first).amount_won  # type: ignore[union-attr]
    cap = BOOK.cap("grade_5", first).amount_won  # type: ignore[union-attr]
    to_80 = math.ceil(cap * 0.8 / fee)
    to_100 = math.ceil(cap / fee)
    assert to_80 < to_100 <= len(WEEKDAYS)
    deliver(database_url, parties, WEEKDAYS[: to_80 - 1])
    in_may = datetime(2025, 5, 31, 12, tzinfo=KOREA)
    run_alerts(in_may)
    assert cap_notices(database_url, parties.patient_id) == []  # under 80 %

    deliver(database_url, parties, WEEKDAYS[to_80 - 1 : to_80])
    run_alerts(in_may)
    owner = parties.owner.user_id
    eighty = [("benefit_cap_80", owner, "in_app"), ("benefit_cap_80", owner, "web_push")]
    assert cap_notices(database_url, parties.patient_id) == eighty
    run_alerts(in_may)  # again: nothing new
    assert cap_notices(database_url, parties.patient_id) == eighty

    deliver(database_url, parties, WEEKDAYS[to_80:to_100])
    counts = run_alerts(in_may)
    assert counts["failed"] == 0
    assert cap_notices(database_url, parties.patient_id) == [
        ("benefit_cap_100", owner, "email"),
        ("benefit_cap_100", owner, "in_app"),
        ("benefit_cap_100", owner, "web_push"),
        *eighty,
    ]
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT payload FROM notification_outbox WHERE patient_id = %s"
            " AND event_type = 'benefit_cap_100' AND channel = 'in_app'",
            (parties.patient_id,),
        )
        payload = cur.fetchone()["payload"]
    assert payload == {
        "month": "2025-05",
        "used": fee * to_100,
        "cap": cap,
        "threshold_percent": 100,
    }


def test_on_the_1st_last_month_s_last_visits_are_still_announced(
    app_env: Any, parties: Parties, database_url: str
) -> None:
    # The visits that reach 80 % were checked out after May's last run: June 1st's runs see May.
    set_grade(database_url, parties.patient_id, "grade_5")
    first = WEEKDAYS[0]
    fee = BOOK.band("home_visit_care", 240, first).amount_won  # type: ignore[union-attr]
    cap = BOOK.cap("grade_5", first).amount_won  # type: ignore[union-attr]
    deliver(database_url, parties, WEEKDAYS[: math.ceil(cap * 0.8 / fee)])
    run_alerts(datetime(2025, 6, 1, 0, 10, tzinfo=KOREA))
    owner = parties.owner.user_id
    eighty = [("benefit_cap_80", owner, "in_app"), ("benefit_cap_80", owner, "web_push")]
    assert cap_notices(database_url, parties.patient_id) == eighty
    run_alerts(datetime(2025, 6, 2, 0, 10, tzinfo=KOREA))  # the 2nd: June only, nothing new
    assert cap_notices(database_url, parties.patient_id) == eighty


def test_the_dashboard_shows_this_month_s_use_against_the_cap(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    month = Month.containing(datetime.now(UTC))
    today = korea_today()
    days = [d for d in (month.first_day + timedelta(days=n) for n in range(3)) if d < today]
    deliver(database_url, parties, days, minutes=60)
    response = app_server.get("api/users/me/dashboard", headers=parties.owner.headers)
    assert response.status_code == 200, response.text
    panel = next(p for p in response.json()["patients"] if p["patient_id"] == parties.patient_id)
    expected = statement(
        BOOK,
        profile(parties.patient_id, "grade_3"),
        month.first_day,
        [
            VerifiedVisit(
                i, 0, start := datetime.combine(d, datetime.min.time(), KOREA).replace(hour=9),
                start + timedelta(minutes=60),
            )
            for i, d in enumerate(days)
        ],
    ).totals  # fmt: skip
    usage = panel["benefit_usage"]
    assert usage["month"] == month.text
    assert (usage["used_won"], usage["cap_won"]) == (expected.benefit_total_won, expected.cap_won)
    assert usage["percent"] == expected.benefit_total_won * 100 // expected.cap_won
    assert (usage["level"], usage["level_label"]) == ("within", "여유")


def next_month() -> Month:
    return Month.containing(datetime.now(UTC)).next()


def estimate(patient_id: int, days: list[date]) -> tuple[int, int]:
    """What the warning must say: each day one 180-minute visit from 09:00, priced."""
    visits = [
        VerifiedVisit(i, 0, start, start + timedelta(minutes=180))
        for i, day in enumerate(days)
        for start in [datetime.combine(day, datetime.min.time(), KOREA).replace(hour=9)]
    ]
    totals = statement(BOOK, profile(patient_id, "grade_5"), days[0].replace(day=1), visits).totals
    return totals.benefit_total_won, totals.cap_won


def test_a_schedule_that_would_pass_the_cap_answers_with_a_warning(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    set_grade(database_url, parties.patient_id, "grade_5")
    month = next_month()
    days = [month.first_day + timedelta(days=n) for n in range(25)]
    with cursor(database_url) as cur:
        for day in days[:-1]:
            make_schedule(cur, parties.patient_id, day)
    url = f"api/patients/{parties.patient_id}/schedules"
    response = app_server.request(
        "POST", url, json={"schedule_date": days[-1].isoformat()}, headers=parties.owner.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["schedule_date"] == days[-1].isoformat()  # the schedule as before
    estimated, cap = estimate(parties.patient_id, days)
    assert estimated > cap
    assert body["warnings"] == [
        {
            "code": "monthly_cap_exceeded",
            "month": month.text,
            "estimated_won": estimated,
            "cap_won": cap,
            "over_by_won": estimated - cap,
            "message": f"{month.first_day.year}년 {month.first_day.month}월 예상 급여비용"
            f" {estimated:,}원이 월 한도액 {cap:,}원을 {estimated - cap:,}원 초과합니다."
            " 초과분은 전액 본인 부담입니다.",
        }
    ]


def test_a_schedule_within_the_cap_has_no_warning(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    day = next_month().first_day + timedelta(days=2)
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/schedules",
        json={"schedule_date": day.isoformat()},
        headers=parties.owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []


def test_a_schedule_in_a_month_without_tariff_data_has_no_warning(
    app_server: Any, parties: Parties
) -> None:
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/schedules",
        json={"schedule_date": "2000-01-03"},
        headers=parties.owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []


def test_a_schedule_in_the_calendar_s_last_month_is_created_without_a_warning(
    app_server: Any, parties: Parties
) -> None:
    # December 9999 has no next month: the estimate must not overflow (it answered 500 and
    # rolled the schedule back).
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/schedules",
        json={"schedule_date": "9999-12-31"},
        headers=parties.owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []


def test_confirming_a_care_plan_that_would_pass_the_cap_warns_by_how_much(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    set_grade(database_url, parties.patient_id, "grade_5")
    month = next_month()
    days = [month.first_day + timedelta(days=n) for n in range(25)]
    with cursor(database_url) as cur:
        for day in days[:-7]:
            make_schedule(cur, parties.patient_id, day)
        cur.execute(
            "INSERT INTO care_plans (patient_id, created_by, start_date, days, status, source,"
            " disclaimer) VALUES (%s, %s, %s, 7, 'draft', 'template', '참고용')"
            " RETURNING care_plan_id",
            (parties.patient_id, parties.owner.user_id, days[-7]),
        )
        plan_id = cur.fetchone()["care_plan_id"]
        for day in days[-7:]:
            make_schedule(cur, parties.patient_id, day, status="draft", care_plan_id=plan_id)
    response = app_server.request(
        "POST", f"api/care-plans/{plan_id}/confirm", headers=parties.owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    estimated, cap = estimate(parties.patient_id, days)
    assert [(w["month"], w["estimated_won"], w["over_by_won"]) for w in body["warnings"]] == [
        (month.text, estimated, estimated - cap)
    ]


def test_the_alerts_timer_runs_from_the_command_line(database_url: str, azurite: Any) -> None:
    result = run_manage("run-timer", "benefit_usage_alerts", env=service_env(database_url, azurite))
    assert result.returncode == 0, result.stderr
    [completed] = [
        e
        for e in logged_events(result.stderr)
        if e.get("event") == "benefit_usage_alerts_completed"
    ]
    assert completed["function"] == "benefit_usage_alerts"
    assert completed["failed"] == 0
    assert completed["month"] == Month.containing(datetime.now(UTC)).text
