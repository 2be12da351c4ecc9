"""The monthly visit record (급여제공기록지) through the served app: its content from a month of
care, its files in Blob (rewritten only when the record changed), download links, and
acknowledgements; bad input is a 422 naming the field that writes nothing."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.factories import Parties, cursor, make_caregiver, make_matching
from tests.integration.visit_records_data import (
    CONTAINER,
    MonthOfCare,
    audit_events,
    last_month,
    stored_blobs,
    write_month,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


@pytest.fixture
def care(database_url: str, parties: Parties) -> MonthOfCare:
    with cursor(database_url) as cur:
        return write_month(cur, parties.patient_id, parties.assigned_caregiver)


def path(parties: Parties, month: str, suffix: str = "") -> str:
    return f"api/patients/{parties.patient_id}/visit-records/{month}{suffix}"


def test_the_month_record_holds_the_care_delivered(
    app_server: Any, parties: Parties, care: MonthOfCare, database_url: str, blob_service: Any
) -> None:
    month = care.month.text
    response = app_server.get(path(parties, month), headers=parties.owner.headers)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["title"] == "급여제공기록지"
    assert record["month"] == month
    assert record["patient"]["patient_id"] == parties.patient_id
    assert record["patient"]["care_level_label"] == "3등급"

    visits = {v["visit_id"]: v for v in record["visits"]}
    assert set(visits) == {care.visits["nfc"], care.visits["gps"], care.visits["manual"]}
    nfc = visits[care.visits["nfc"]]
    assert (nfc["start"][11:16], nfc["end"][11:16], nfc["minutes"]) == ("10:02", "12:05", 123)
    assert nfc["start"].endswith("+09:00")
    assert (nfc["check_in_method"], nfc["check_in_method_label"]) == ("nfc_tag", "NFC 태그")
    assert visits[care.visits["gps"]]["check_out_method_label"] == "GPS 위치"
    assert visits[care.visits["gps"]]["corrected"] is True
    assert nfc["corrected"] is False
    manual = visits[care.visits["manual"]]
    assert (manual["check_in_method_label"], manual["reviewed"]) == ("수기 기록", True)
    assert manual["needs_review"] is False

    not_delivered = {v["visit_id"]: v for v in record["not_delivered"]}
    assert not_delivered[care.visits["missed"]]["status_label"] == "미방문"
    assert not_delivered[care.visits["cancelled"]]["reason"] == "병원 진료"
    assert record["totals"] == {
        "visits": 3,
        "minutes": 369,
        "missed": 1,
        "cancelled": 1,
        "medications_given": 1,
        "medications_refused": 1,
        "medications_missed": 0,
        "incidents": 1,
    }

    sections = {s["label"]: s for s in record["sections"]}
    assert list(sections) == ["신체활동지원", "인지·정서지원", "가사 및 일상생활지원"]
    physical = sections["신체활동지원"]["activities"]
    assert {a["task_name"] for a in physical} == {"점심 식사 도움"}
    assert all(a["outcome_label"] == "수행" for a in physical)
    cognitive = {a["care_log_id"]: a for a in sections["인지·정서지원"]["activities"]}
    not_done = cognitive[care.care_logs["gps_cognitive"]]
    assert (not_done["outcome_label"], not_done["reason"]) == ("미수행", "어르신이 피곤해하심")
    assert cognitive[care.care_logs["nfc_cognitive"]]["outcome"] == "done"
    # A completed care log counts as done though no visit recorded it.
    daily = sections["가사 및 일상생활지원"]["activities"]
    assert [a["outcome"] for a in daily] == ["done", "done", "done"]

    conditions = {(c["area_label"], c["note"]) for c in record["condition_changes"]}
    assert conditions == {("식사", "점심을 반만 드심"), ("인지", "날짜를 자주 물으심")}
    assert [n["summary"] for n in record["notes"]] == ["식사량이 평소보다 적음"]
    medications = {(m["name"], m["outcome_label"], m["note"]) for m in record["medications"]}
    assert medications == {
        ("아리셉트", "투약 완료", None),
        ("혈압약", "투약 거부", "쓰다고 거부하심"),
    }
    (incident,) = record["incidents"]
    assert (incident["kind_label"], incident["severity_label"]) == ("낙상", "보통")
    assert incident["follow_up_status_label"] == "접수"
    assert record["acknowledgements"] == []

    blobs = stored_blobs(blob_service, parties.patient_id)
    assert set(blobs) == {f"{parties.patient_id}/{month}.json", f"{parties.patient_id}/{month}.pdf"}
    assert {m["content_sha256"] for m in blobs.values()} == {record["content_sha256"]}
    assert audit_events(database_url, parties.patient_id) == [("view", "visit_record", month)]


def test_the_stored_files_are_rewritten_only_when_the_record_changes(
    app_server: Any, parties: Parties, care: MonthOfCare, database_url: str
) -> None:
    url = path(parties, care.month.text)
    first = app_server.get(url, headers=parties.owner.headers).json()
    again = app_server.get(url, headers=parties.assigned_caregiver.headers).json()
    assert again == first  # the stored record, generated_at included

    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE incidents SET follow_up_status = 'resolved' WHERE incident_id = %s",
            (care.incident_id,),
        )
    changed = app_server.get(url, headers=parties.owner.headers).json()
    assert changed["incidents"][0]["follow_up_status_label"] == "종결"
    assert changed["content_sha256"] != first["content_sha256"]
    assert changed["generated_at"] > first["generated_at"]


def test_a_download_link_reads_the_stored_pdf_and_json_for_a_short_while(
    app_server: Any, parties: Parties, care: MonthOfCare, database_url: str
) -> None:
    url = path(parties, care.month.text, "/download")
    before = datetime.now(UTC)
    response = app_server.request(
        "POST", url, json={"format": "pdf"}, headers=parties.assigned_caregiver.headers
    )
    assert response.status_code == 200, response.text
    link = response.json()
    expires = datetime.fromisoformat(link["expires_at"])
    assert 290 <= (expires - before).total_seconds() <= 310
    query = parse_qs(urlparse(link["url"]).query)
    assert query["sp"] == ["r"]  # read only
    assert urlparse(link["url"]).path.endswith(
        f"/{CONTAINER}/{parties.patient_id}/{care.month.text}.pdf"
    )
    with urllib.request.urlopen(link["url"], timeout=10) as served:  # Azurite
        assert served.headers["Content-Type"] == "application/pdf"
        assert "attachment" in served.headers["Content-Disposition"]
        assert served.read(5) == b"%PDF-"

    response = app_server.request(
        "POST", url, json={"format": "json"}, headers=parties.owner.headers
    )
    with urllib.request.urlopen(response.json()["url"], timeout=10) as served:
        stored = json.loads(served.read())
    assert stored["content_sha256"] == response.json()["content_sha256"]
    assert stored["totals"]["visits"] == 3

    # The link opens this blob only: the same signature on the other file is refused.
    other = link["url"].replace(".pdf?", ".json?")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(other, timeout=10)
    assert refused.value.code == 403
    events = audit_events(database_url, parties.patient_id)
    assert events == [("export", "visit_record", care.month.text)] * 2


def test_the_guardian_and_the_caregiver_acknowledge_a_finished_month(
    app_server: Any, parties: Parties, care: MonthOfCare, database_url: str, blob_service: Any
) -> None:
    url = path(parties, care.month.text, "/acknowledgements")
    response = app_server.request("POST", url, headers=parties.owner.headers)
    assert response.status_code == 200, response.text
    (guardian,) = response.json()["acknowledgements"]
    assert (guardian["role_label"], guardian["user_id"]) == ("보호자", parties.owner.user_id)

    record = app_server.request("POST", url, headers=parties.assigned_caregiver.headers).json()
    roles = [a["role"] for a in record["acknowledgements"]]
    assert roles == ["guardian", "caregiver"]
    # Acknowledging twice keeps the first time.
    again = app_server.request("POST", url, headers=parties.owner.headers).json()
    assert again["acknowledgements"] == record["acknowledgements"]
    stored = stored_blobs(blob_service, parties.patient_id)
    assert (
        stored[f"{parties.patient_id}/{care.month.text}.json"]["content_sha256"]
        == (record["content_sha256"])
    )
    actions = [e[:2] for e in audit_events(database_url, parties.patient_id)]
    assert actions.count(("create", "visit_record_acknowledgement")) == 3


def test_only_a_caregiver_of_the_month_acknowledges_and_only_a_finished_month(
    app_server: Any, parties: Parties, care: MonthOfCare, database_url: str
) -> None:
    with cursor(database_url) as cur:
        newcomer = make_caregiver(cur)
        make_matching(cur, parties.patient_id, newcomer, status="active")
    url = path(parties, care.month.text, "/acknowledgements")
    assert_problem(app_server.request("POST", url, headers=newcomer.headers), 403, "forbidden")
    this_month = care.month.next().text
    current = path(parties, this_month, "/acknowledgements")
    assert_problem(
        app_server.request("POST", current, headers=parties.owner.headers),
        409,
        "visit_record_month_open",
    )
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM visit_record_acknowledgements WHERE patient_id = %s",
            (parties.patient_id,),
        )
        assert cur.fetchone()["n"] == 0


@pytest.mark.parametrize(
    "month", ["2026-13", "202611", "26-11", "2026-1", "2999-01", "1999-12", "0001-01"]
)
def test_a_bad_or_future_month_is_a_422_naming_it(
    app_server: Any, parties: Parties, month: str, database_url: str, blob_service: Any
) -> None:
    for method, suffix, body in (
        ("GET", "", None),
        ("POST", "/download", {"format": "pdf"}),
        ("POST", "/acknowledgements", None),
    ):
        response = app_server.request(
            method, path(parties, month, suffix), json=body, headers=parties.owner.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["path", "month"]
    assert audit_events(database_url, parties.patient_id) == []
    assert stored_blobs(blob_service, parties.patient_id) == {}


def test_a_download_in_an_unknown_format_is_a_422_naming_it(
    app_server: Any, parties: Parties, care: MonthOfCare, database_url: str
) -> None:
    response = app_server.request(
        "POST",
        path(parties, care.month.text, "/download"),
        json={"format": "docx"},
        headers=parties.owner.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "format"]
    assert audit_events(database_url, parties.patient_id) == []


def test_a_month_without_visits_has_an_empty_record(app_server: Any, parties: Parties) -> None:
    month = last_month().previous().text
    record = app_server.get(path(parties, month), headers=parties.owner.headers).json()
    assert record["visits"] == []
    assert record["totals"]["visits"] == 0
    assert [s["activities"] for s in record["sections"]] == [[], [], []]
