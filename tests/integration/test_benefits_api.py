"""Long-term-care benefits over HTTP: the profile (effective-dated, history kept, care_level kept
in step), the tariffs loaded by the migration, and the monthly statement of verified visits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from models.benefits import LtcProfile
from models.dates import KOREA
from shared.benefits.pricing import VerifiedVisit, statement
from shared.benefits.tariffs import TariffBook
from tests.factories import Parties, cursor, make_schedule, make_visit
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


def profile_path(parties: Parties) -> str:
    return f"api/patients/{parties.patient_id}/ltc-profile"


def put_profile(app_server, parties: Parties, who: str = "owner", **body: Any):
    values = {"grade": "grade_3", "recognition_number": "L1234567890", "copay_percent": 15,
              "effective_from": "2025-01-01"} | body  # fmt: skip
    return app_server.request(
        "PUT", profile_path(parties), headers=parties.headers(who), json=values
    )


def care_level(database_url: str, patient_id: int) -> str:
    with cursor(database_url) as cur:
        cur.execute("SELECT care_level FROM patients WHERE patient_id = %s", (patient_id,))
        return str(cur.fetchone()["care_level"])


def test_without_a_profile_the_care_level_stands_in_with_the_standard_copay(
    app_server, parties: Parties
):
    body = app_server.get(profile_path(parties), headers=parties.headers("owner")).json()
    assert body["history"] == []
    current = body["current"]
    assert (current["source"], current["grade"], current["copay_percent"]) == (
        "care_level",
        "grade_3",
        15,
    )
    assert current["grade_label"] == "3등급"
    assert current["copay_label"] == "일반 15%"


def test_a_profile_is_effective_dated_and_its_history_kept(
    app_server, database_url, parties: Parties
):
    first = put_profile(app_server, parties, grade="grade_4", copay_percent=9)
    assert first.status_code == 200, first.text
    assert first.json()["current"]["grade"] == "grade_4"
    assert care_level(database_url, parties.patient_id) == "grade_4"

    # The same day again: the earlier row is superseded, kept in the history.
    again = put_profile(app_server, parties, "admin", grade="grade_2", copay_percent=6)
    assert again.status_code == 200, again.text
    history = again.json()["history"]
    assert [(h["grade"], h["superseded_at"] is None) for h in history] == [
        ("grade_2", True),
        ("grade_4", False),
    ]
    assert again.json()["current"]["copay_label"] == "감경 6% (60% 경감)"

    # A profile from a future day does not change today's, nor the care_level yet.
    later = put_profile(
        app_server, parties, grade="grade_1", copay_percent=0, effective_from="2099-01-01"
    )
    assert later.json()["current"]["grade"] == "grade_2"
    assert len(later.json()["history"]) == 3
    assert care_level(database_url, parties.patient_id) == "grade_2"

    # 등급외 needs no recognition number.
    none = put_profile(app_server, parties, grade="none", recognition_number=None,
                       effective_from="2026-06-01")  # fmt: skip
    assert none.status_code == 200, none.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recognition_number": "12345"}, "recognition_number"),
        ({"recognition_number": None}, "recognition_number"),
        ({"copay_percent": 10}, "copay_percent"),
        ({"grade": "grade_9"}, "grade"),
        ({"effective_from": "2026-02-30"}, "effective_from"),
        (
            {"recognition_valid_from": "2026-02-01", "recognition_valid_to": "2026-01-01"},
            "recognition_valid_to",
        ),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_profiles_are_422_naming_the_field_and_change_nothing(
    app_server, database_url, parties: Parties, change: dict[str, Any], field: str
):
    response = put_profile(app_server, parties, **change)
    problem = assert_problem(response, 422, "validation_error")
    assert ["body", field] in [e["loc"] for e in problem["errors"]], problem
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM ltc_profiles WHERE patient_id = %s",
                    (parties.patient_id,))  # fmt: skip
        assert cur.fetchone()["n"] == 0
    assert care_level(database_url, parties.patient_id) == "grade_3"


def test_the_migration_loaded_the_data_files(database_url):
    book = TariffBook.from_data_files()
    with cursor(database_url) as cur:
        cur.execute("SELECT grade, amount_won, effective_from FROM ltc_monthly_caps")
        caps = {(r["grade"], r["amount_won"], r["effective_from"]) for r in cur.fetchall()}
        cur.execute("SELECT count(*) AS n FROM ltc_public_holidays WHERE substitute")
        substitutes = cur.fetchone()["n"]
        cur.execute("SELECT count(*) AS n FROM ltc_visit_fees WHERE source = ''")
        no_source = cur.fetchone()["n"]
    assert caps == {(c.grade, c.amount_won, c.effective_from) for c in book.caps}
    assert ("grade_1", 2_512_900, date(2026, 1, 1)) in caps
    assert substitutes == sum(1 for h in book.holidays.values() if h.substitute) > 0
    assert no_source == 0


def _visit(cur, parties: Parties, start: datetime, minutes: int, **extra: Any) -> int:
    schedule_id = make_schedule(cur, parties.patient_id, start.date())
    return make_visit(
        cur, schedule_id, parties.assigned_caregiver, planned_start=start,
        planned_end=start + timedelta(minutes=minutes), check_in_at=start,
        check_out_at=start + timedelta(minutes=minutes), **extra,
    )  # fmt: skip


def test_the_statement_counts_only_verified_visits_priced_by_the_database_tariffs(
    app_server, database_url, parties: Parties
):
    assert put_profile(app_server, parties, copay_percent=15).status_code == 200
    at = lambda d, h, m=0: datetime(2026, 1, d, h, m, tzinfo=KOREA)  # noqa: E731
    with cursor(database_url) as cur:
        _visit(cur, parties, at(5, 9), 120)  # 43,430
        _visit(cur, parties, at(6, 22, 30), 60)  # night: 32,916
        _visit(cur, parties, at(1, 10), 60)  # 신정: 32,916
        # Recorded by hand and not reviewed yet: not counted.
        pending = _visit(cur, parties, at(7, 9), 120)
        cur.execute("UPDATE visits SET needs_review = true WHERE visit_id = %s", (pending,))
        # Reviewed: counted (43,430).
        reviewed = _visit(cur, parties, at(8, 9), 120)
        cur.execute(
            "UPDATE visits SET needs_review = true, reviewed_at = now(),"
            " reviewed_by = %s WHERE visit_id = %s",
            (parties.admin.user_id, reviewed),
        )
        # Still in progress, planned, missed, or in another month: not counted.
        schedule = make_schedule(cur, parties.patient_id, date(2026, 1, 9))
        make_visit(cur, schedule, parties.assigned_caregiver, planned_start=at(9, 9),
                   check_in_at=at(9, 9))  # fmt: skip
        make_visit(cur, schedule, parties.assigned_caregiver, planned_start=at(10, 9))
        make_visit(cur, schedule, parties.assigned_caregiver, planned_start=at(11, 9),
                   status="missed")  # fmt: skip
        _visit(cur, parties, datetime(2026, 2, 1, 9, tzinfo=KOREA), 120)

    response = app_server.get(
        f"api/patients/{parties.patient_id}/statements/2026-01", headers=parties.headers("owner")
    )

    assert response.status_code == 200, response.text
    body = response.json()
    # 43,430 + 32,916 + 32,916 + 43,430 = 152,692; co-payment 22,903.8 -> 22,900.
    assert body["totals"] == {
        "benefit_total_won": 152_692, "cap_won": 1_528_200, "within_cap_won": 152_692,
        "over_cap_won": 0, "insurer_won": 129_792, "copay_won": 22_900,
        "private_pay_won": 0, "family_total_won": 22_900, "total_won": 152_692,
    }  # fmt: skip
    assert (body["visits_counted"], body["visits_pending_review"]) == (4, 1)
    assert [i["surcharge"] for i in body["items"]] == ["holiday", None, "night", None]
    assert body["items"][0]["start"] == "2026-01-01T10:00:00+09:00"
    assert body["profile"]["source"] == "profile"

    # The database's tariffs price exactly as the data files do.
    profile = LtcProfile.model_validate(body["profile"])
    visits = [
        VerifiedVisit(i["visit_id"], i["caregiver_id"], datetime.fromisoformat(i["start"]),
                      datetime.fromisoformat(i["end"]))
        for i in body["items"]
    ]  # fmt: skip
    expected = statement(TariffBook.from_data_files(), profile, date(2026, 1, 1), visits,
                         pending_review=1)  # fmt: skip
    assert body == expected.model_dump(mode="json")


def test_a_corrected_visit_is_priced_by_its_corrected_times(
    app_server, database_url, parties: Parties
):
    """An approved correction rewrites the visit's times; the statement reads them."""
    start = datetime(2026, 3, 3, 9, tzinfo=KOREA)
    with cursor(database_url) as cur:
        visit_id = _visit(cur, parties, start, 60)
        cur.execute(
            "UPDATE visits SET check_out_at = check_in_at + interval '180 minutes',"
            " locked_at = check_in_at + interval '180 minutes' WHERE visit_id = %s",
            (visit_id,),
        )
    body = app_server.get(
        f"api/patients/{parties.patient_id}/statements/2026-03", headers=parties.headers("admin")
    ).json()
    assert [(i["minutes"], i["base_won"]) for i in body["items"]] == [(180, 55_350)]


def test_a_cognitive_support_patient_sees_home_visits_as_private_pay(
    app_server, database_url, parties: Parties
):
    put_profile(app_server, parties, grade="cognitive_support", copay_percent=15)
    with cursor(database_url) as cur:
        _visit(cur, parties, datetime(2026, 4, 6, 10, tzinfo=KOREA), 60)
    body = app_server.get(
        f"api/patients/{parties.patient_id}/statements/2026-04", headers=parties.headers("owner")
    ).json()
    item = body["items"][0]
    assert (item["coverage"], item["reason"], item["amount_won"]) == (
        "private_pay",
        "not_entitled",
        25_320,
    )
    assert item["coverage_label"] == "비급여 (전액 본인부담)"
    assert body["totals"]["private_pay_won"] == body["totals"]["family_total_won"] == 25_320


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "January", "2999-01"])
def test_a_bad_or_future_month_is_422_naming_it(app_server, parties: Parties, month: str):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/statements/{month}", headers=parties.headers("owner")
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "month"]


def test_an_empty_month_is_a_statement_of_zeros(app_server, parties: Parties):
    body = app_server.get(
        f"api/patients/{parties.patient_id}/statements/2025-07", headers=parties.headers("owner")
    ).json()
    assert body["items"] == []
    assert body["totals"]["total_won"] == 0
    assert body["totals"]["cap_won"] == 1_485_700  # 3등급, 2025


def test_a_month_before_the_tariff_data_is_422_not_a_guess(app_server, parties: Parties):
    response = app_server.get(
        f"api/patients/{parties.patient_id}/statements/2024-12", headers=parties.headers("owner")
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0] == {
        "loc": ["path", "month"],
        "msg": "no long-term-care tariffs for this month",
    }
