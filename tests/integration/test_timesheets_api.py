"""Timesheets over HTTP: a caregiver's own month and the operators' view of every caregiver,
as JSON and as the payroll CSV; who may call them; 422s naming the field; the audit trail."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

import pytest

from models.dates import KOREA
from tests.factories import PARTY_NAMES, Parties, cursor, make_schedule, make_visit
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

MONTH = "2025-05"  # 2025-05-04 a Sunday, 05-05 어린이날, 05-06 its substitute holiday


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 5, day, hour, minute, tzinfo=KOREA)


def write_visits(database_url: str, parties: Parties) -> dict[str, int]:
    """Three delivered visits of the assigned caregiver in May 2025, one in April, one planned."""
    caregiver = parties.assigned_caregiver
    ids: dict[str, int] = {}
    with cursor(database_url) as cur:
        for name, start, end in (
            ("weekday", kst(2, 9), kst(2, 12)),  # Friday morning: 180, no surcharge
            ("evening", kst(2, 17), kst(2, 21)),  # Friday 17-21: 180 evening
            ("holiday_night", kst(6, 21), kst(6, 23)),  # substitute holiday 21-23
        ):
            schedule = make_schedule(cur, parties.patient_id, start.date(), status="completed")
            ids[name] = make_visit(
                cur, schedule, caregiver, planned_start=start, check_in_at=start, check_out_at=end
            )
        april = make_schedule(cur, parties.patient_id, date(2025, 4, 30), status="completed")
        april_start = datetime(2025, 4, 30, 23, 0, tzinfo=KOREA)
        make_visit(
            cur,
            april,
            caregiver,
            planned_start=april_start,
            check_in_at=april_start,
            check_out_at=kst(1, 1),
        )
        planned = make_schedule(cur, parties.patient_id, date(2025, 5, 20))
        make_visit(cur, planned, caregiver, planned_start=kst(20, 9))
    return ids


def audit_count(database_url: str, patient_id: int, action: str) -> int:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM audit_events WHERE patient_id = %s"
            " AND resource_type = 'timesheet' AND action = %s",
            (patient_id, action),
        )
        return int(cur.fetchone()["n"])


def test_a_caregiver_sees_their_month_with_surcharge_minutes(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    ids = write_visits(database_url, parties)
    caregiver = parties.assigned_caregiver
    response = app_server.get(f"api/caregivers/me/timesheets/{MONTH}", headers=caregiver.headers)
    assert response.status_code == 200, response.text
    sheet = response.json()
    assert sheet["caregiver_id"] == caregiver.caregiver_id
    assert (sheet["month"], sheet["period_start"], sheet["period_end"]) == (
        MONTH,
        "2025-05-01",
        "2025-05-31",
    )
    assert [v["visit_id"] for v in sheet["visits"]] == [
        ids["weekday"],
        ids["evening"],
        ids["holiday_night"],
    ]
    by_id = {v["visit_id"]: v for v in sheet["visits"]}
    assert by_id[ids["evening"]]["minutes"] == 240
    assert by_id[ids["evening"]]["surcharge_minutes"] == {"evening": 180, "night": 0, "holiday": 0}
    assert by_id[ids["holiday_night"]]["surcharge_minutes"] == {
        "evening": 60,
        "night": 60,
        "holiday": 120,
    }
    assert by_id[ids["weekday"]]["start"] == "2025-05-02T09:00:00+09:00"
    assert sheet["totals"] == {
        "visits": 3,
        "minutes": 180 + 240 + 120,
        "surcharge_minutes": {"evening": 240, "night": 60, "holiday": 120},
    }
    assert audit_count(database_url, parties.patient_id, "view") == 1


def test_the_payroll_csv_is_utf8_with_bom_and_a_korean_header(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    write_visits(database_url, parties)
    caregiver = parties.assigned_caregiver
    response = app_server.get(
        f"api/caregivers/me/timesheets/{MONTH}?format=csv", headers=caregiver.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"] == f'attachment; filename="timesheets-{MONTH}.csv"'
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["요양보호사 번호", "요양보호사"]
    assert rows[0][8:12] == ["제공 시간(분)", "야간(18-22시) 분", "심야(22-06시) 분", "휴일 분"]
    assert [r[5] for r in rows[1:]] == ["2025-05-02", "2025-05-02", "2025-05-06"]
    assert rows[3][6:12] == ["21:00", "23:00", "120", "60", "60", "120"]
    assert audit_count(database_url, parties.patient_id, "export") == 1


def test_operators_see_one_caregiver_or_every_caregiver_of_the_month(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    write_visits(database_url, parties)
    admin, caregiver = parties.admin, parties.assigned_caregiver
    one = app_server.get(
        f"api/admin/timesheets/{MONTH}?caregiver_id={caregiver.caregiver_id}",
        headers=admin.headers,
    )
    assert one.status_code == 200, one.text
    page = one.json()
    assert (page["month"], page["total"]) == (MONTH, 1)
    assert page["items"][0]["totals"]["visits"] == 3
    every = app_server.get(f"api/admin/timesheets/{MONTH}?limit=100", headers=admin.headers)
    assert caregiver.caregiver_id in [s["caregiver_id"] for s in every.json()["items"]]
    idle = parties.unassigned_caregiver.caregiver_id
    empty = app_server.get(
        f"api/admin/timesheets/{MONTH}?caregiver_id={idle}", headers=admin.headers
    ).json()
    assert empty["items"][0]["totals"] == {
        "visits": 0,
        "minutes": 0,
        "surcharge_minutes": {"evening": 0, "night": 0, "holiday": 0},
    }
    csv_response = app_server.get(
        f"api/admin/timesheets/{MONTH}?caregiver_id={caregiver.caregiver_id}&format=csv",
        headers=admin.headers,
    )
    lines = csv_response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 3
    missing = app_server.get(
        f"api/admin/timesheets/{MONTH}?caregiver_id=999999999", headers=admin.headers
    )
    assert_problem(missing, 404, "not_found")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("api/caregivers/me/timesheets/2025-13", "month"),
        ("api/caregivers/me/timesheets/2999-01", "month"),
        ("api/caregivers/me/timesheets/2025-05?format=xlsx", "format"),
        ("api/admin/timesheets/may", "month"),
        ("api/admin/timesheets/2025-05?caregiver_id=0", "caregiver_id"),
        ("api/admin/timesheets/2025-05?format=pdf", "format"),
        # A newline after the month (the CSV's Content-Disposition names the month).
        ("api/caregivers/me/timesheets/2025-05%0A?format=csv", "month"),
        ("api/admin/timesheets/2025-05%0A?format=csv", "month"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    app_server: Any, parties: Parties, path: str, field: str
) -> None:
    who = parties.admin if "admin" in path else parties.assigned_caregiver
    body = assert_problem(app_server.get(path, headers=who.headers), 422, "validation_error")
    assert field in [error["loc"][-1] for error in body["errors"]]


MINE = dict.fromkeys(PARTY_NAMES, 403) | {
    "anonymous": 401,
    "assigned_caregiver": 200,
    "unassigned_caregiver": 200,
}
ADMIN = dict.fromkeys(PARTY_NAMES, 403) | {"anonymous": 401, "admin": 200}


@pytest.mark.parametrize("party", PARTY_NAMES)
def test_who_may_read_timesheets(
    app_server: Any, parties: Parties, database_url: str, party: str
) -> None:
    write_visits(database_url, parties)
    headers = parties.headers(party)
    mine = app_server.get(f"api/caregivers/me/timesheets/{MONTH}", headers=headers)
    assert mine.status_code == MINE[party], mine.text
    if party == "unassigned_caregiver":  # their own month: nothing of this patient
        assert mine.json()["visits"] == []
    admin = app_server.get(f"api/admin/timesheets/{MONTH}", headers=headers)
    assert admin.status_code == ADMIN[party], admin.text
    expected_views = {"assigned_caregiver": 1, "admin": 1}.get(party, 0)
    assert audit_count(database_url, parties.patient_id, "view") == expected_views
