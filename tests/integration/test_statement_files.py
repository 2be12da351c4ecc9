"""The monthly statement's files: a short-lived read-only link to the Korean PDF or the JSON in
Blob (rewritten only when the statement changed), who may ask for one, 422s naming the field,
the export's audit event, and the timer that writes last month's statements on the 1st."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from functions.statement_files import run_monthly
from models.dates import KOREA
from tests.factories import PARTY_NAMES, Parties, cursor, make_schedule, make_visit
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

MONTH = "2025-05"


def kst(day: int, hour: int) -> datetime:
    return datetime(2025, 5, day, hour, tzinfo=KOREA)


def deliver(database_url: str, parties: Parties) -> None:
    """Three delivered visits in May 2025: a weekday, an evening, a public holiday (05-05)."""
    with cursor(database_url) as cur:
        for start, minutes in ((kst(2, 9), 180), (kst(8, 18), 120), (kst(5, 10), 240)):
            schedule = make_schedule(cur, parties.patient_id, start.date(), status="completed")
            end = start.replace(hour=start.hour + minutes // 60)
            make_visit(
                cur,
                schedule,
                parties.assigned_caregiver,
                planned_start=start,
                check_in_at=start,
                check_out_at=end,
            )


def path(parties: Parties, month: str = MONTH) -> str:
    return f"api/patients/{parties.patient_id}/statements/{month}/download"


def exports(database_url: str, patient_id: int) -> list[dict[str, Any]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT actor_role, detail FROM audit_events WHERE patient_id = %s"
            " AND action = 'export' AND resource_type = 'benefit_statement' ORDER BY event_id",
            (patient_id,),
        )
        return list(cur.fetchall())


def test_a_link_reads_the_korean_pdf_and_the_json_for_a_short_while(
    app_server: Any, parties: Parties, database_url: str, tmp_path: Any
) -> None:
    deliver(database_url, parties)
    before = datetime.now(UTC)
    response = app_server.request(
        "POST", path(parties), json={"format": "pdf"}, headers=parties.owner.headers
    )
    assert response.status_code == 200, response.text
    link = response.json()
    expires = datetime.fromisoformat(link["expires_at"])
    assert 290 <= (expires - before).total_seconds() <= 310
    assert parse_qs(urlparse(link["url"]).query)["sp"] == ["r"]  # read only
    assert urlparse(link["url"]).path.endswith(f"/statements/{parties.patient_id}/{MONTH}.pdf")
    with urllib.request.urlopen(link["url"], timeout=10) as served:  # Azurite
        assert served.headers["Content-Type"] == "application/pdf"
        assert "attachment" in served.headers["Content-Disposition"]
        pdf = served.read()
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "statement.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "statement.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "장기요양급여비용 명세서 (2025-05)" in text
    assert "방문요양 내역 (3회)" in text
    assert "휴일 가산 30%" in text
    assert "야간 가산 20%" in text

    response = app_server.request(
        "POST", path(parties), json={"format": "json"}, headers=parties.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["content_sha256"] == link["content_sha256"]  # nothing changed
    with urllib.request.urlopen(response.json()["url"], timeout=10) as served:
        stored = json.loads(served.read())
    assert stored["content_sha256"] == link["content_sha256"]
    assert (stored["month"], stored["visits_counted"]) == (MONTH, 3)
    assert [i["surcharge"] for i in stored["items"]] == [None, "holiday", "evening"]
    totals = stored["totals"]
    assert totals["total_won"] == totals["insurer_won"] + totals["family_total_won"]
    assert [(e["actor_role"], e["detail"]["format"]) for e in exports(
        database_url, parties.patient_id
    )] == [("guardian", "pdf"), ("admin", "json")]  # fmt: skip


def test_a_new_visit_changes_the_fingerprint(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    deliver(database_url, parties)
    first = app_server.request("POST", path(parties), json={}, headers=parties.owner.headers)
    with cursor(database_url) as cur:
        schedule = make_schedule(cur, parties.patient_id, date(2025, 5, 20), status="completed")
        start = kst(20, 9)
        make_visit(
            cur,
            schedule,
            parties.assigned_caregiver,
            planned_start=start,
            check_in_at=start,
            check_out_at=start.replace(hour=10),
        )
    second = app_server.request("POST", path(parties), json={}, headers=parties.owner.headers)
    assert first.json()["format"] == "pdf"  # the default
    assert second.json()["content_sha256"] != first.json()["content_sha256"]


EXPECTED = {
    "anonymous": 401,
    "other_guardian": 404,
    "unassigned_caregiver": 403,
    "assigned_caregiver": 403,
    "owner": 200,
    "admin": 200,
}


@pytest.mark.parametrize("party", PARTY_NAMES)
def test_only_the_owner_and_operators_get_a_link(
    app_server: Any, parties: Parties, database_url: str, party: str
) -> None:
    response = app_server.request(
        "POST", path(parties), json={"format": "pdf"}, headers=parties.headers(party)
    )
    assert response.status_code == EXPECTED[party], response.text
    assert len(exports(database_url, parties.patient_id)) == (EXPECTED[party] == 200)


def test_caregivers_are_refused_before_their_input_is_read(
    app_server: Any, parties: Parties, database_url: str
) -> None:
    """403, not 422, for a malformed body or month, as the statement's other routes answer."""
    for who in ("assigned_caregiver", "unassigned_caregiver"):
        headers = parties.headers(who)
        for month, body in (("2025-13", {}), (MONTH, {"format": "docx"})):
            response = app_server.request("POST", path(parties, month), json=body, headers=headers)
            assert_problem(response, 403, "forbidden")
    assert exports(database_url, parties.patient_id) == []


@pytest.mark.parametrize(
    ("month", "body", "field"),
    [
        ("2025-13", {}, "month"),
        ("2999-01", {}, "month"),
        ("2000-01", {}, "month"),  # before the tariff data
        (MONTH, {"format": "docx"}, "format"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_exports_nothing(
    app_server: Any, parties: Parties, database_url: str, month: str, body: Any, field: str
) -> None:
    response = app_server.request(
        "POST", path(parties, month), json=body, headers=parties.owner.headers
    )
    problem = assert_problem(response, 422, "validation_error")
    assert field in [error["loc"][-1] for error in problem["errors"]]
    assert exports(database_url, parties.patient_id) == []


def test_on_the_1st_last_month_s_statements_are_written_once(
    app_env: Any, monkeypatch: Any, parties: Parties, database_url: str, blob_service: Any
) -> None:
    container = f"statements-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("STATEMENT_CONTAINER", container)
    deliver(database_url, parties)
    assert run_monthly(datetime(2025, 6, 2, 1, 30, tzinfo=KOREA)) is None  # not the 1st
    first = run_monthly(datetime(2025, 6, 1, 1, 30, tzinfo=KOREA))
    assert first is not None
    assert first["failed"] == 0
    assert first["written"] >= 1
    names = {
        b.name
        for b in blob_service.get_container_client(container).list_blobs(
            name_starts_with=f"{parties.patient_id}/"
        )
    }
    assert names == {f"{parties.patient_id}/{MONTH}.json", f"{parties.patient_id}/{MONTH}.pdf"}
    again = run_monthly(datetime(2025, 6, 1, 1, 45, tzinfo=KOREA))
    assert again is not None
    assert again["written"] == 0
    assert again["unchanged"] == first["written"] + first["unchanged"]
    timer = [e for e in exports(database_url, parties.patient_id) if e["actor_role"] == "timer"]
    assert [e["detail"]["timer"] for e in timer] == ["monthly_statements"] * 2
