"""Issue 17's journey, through the served app: from an active matching through a month of
visits to the month's visit record (급여제공기록지).

The guardian sets up the home (GPS location, an NFC tag), a medication, notifications (a push
subscription, no quiet hours) and today's schedule and visits; earlier days of the month are
visits already delivered (written as rows: a check-in is the server's time, so only today's can
be made through the API). The caregiver checks in and out by NFC (replaying an offline phone's
check-in with its Idempotency-Key), by GPS and by hand; records a task, a given and a refused
dose and an incident; proposes a correction the guardian approves; an operator reviews the
visit recorded by hand. The late/missed timer marks a late and a missed visit. Email is down
throughout the events: in-app and push are delivered at once, email is retried with backoff and
delivered once it is back, nothing lost. The month's record then holds all of it, as JSON and as
a Korean PDF fetched through its short-lived link.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.dates import KOREA
from shared.notifications.sender import deliver_due
from shared.unit_of_work import UnitOfWork
from shared.visit_records.builder import Month
from shared.visits.watch import watch_visits
from tests.factories import Parties, cursor, make_schedule, make_visit
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

HOME = {"latitude": 37.497942, "longitude": 127.027621}  # 강남역 부근
NEAR_HOME = {"latitude": 37.498100, "longitude": 127.027800, "accuracy_m": 12.0}
TAG_UID = "NFC-HOME-" + uuid.uuid4().hex[:8]
PDF_SAYS = (
    "급여제공기록지",
    "NFC 태그",
    "GPS 위치",
    "수기 기록",
    "정정 승인",
    "수기 검토 완료",
    "투약 거부",
    "쓰다고 거부하심",
    "낙상",
    "점심을 반만 드심",
)


@pytest.fixture
def env(app_env: Any, notifications_env: dict[str, str], monkeypatch: Any) -> Iterator[None]:
    """The in-process sender and timer see the same settings as the served app."""
    from shared.notifications.channels import email

    for name, value in notifications_env.items():
        monkeypatch.setenv(name, value)
    email.reset_client()
    yield
    email.reset_client()


class Client:
    def __init__(self, app: Any, parties: Parties) -> None:
        self.app, self.parties = app, parties

    def __call__(
        self,
        who: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Any:
        response = self.app.request(
            method, path, json=body, headers={**self.parties.headers(who), **(headers or {})}
        )
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None


def iso(instant: datetime) -> str:
    return instant.astimezone(KOREA).isoformat()


def schedule_for(call: Client, patient_id: int, day: Any, memo: dict[Any, int]) -> int:
    if day not in memo:
        memo[day] = call(
            "owner",
            "POST",
            f"api/patients/{patient_id}/schedules",
            {"schedule_date": day.isoformat()},
            201,
        )["schedule_id"]
    return memo[day]


def seed_earlier_days(
    database_url: str, parties: Parties, tag_id: int, before: Any, today: Any
) -> int:
    """Visits delivered on up to six days before `before` in today's month, by NFC."""
    days = [before - timedelta(days=n) for n in range(1, 7)]
    days = [d for d in days if (d.year, d.month) == (today.year, today.month)]
    with cursor(database_url) as cur:
        for day in days:
            start = datetime.combine(day, datetime.min.time(), KOREA).replace(hour=9)
            visit_id = make_visit(
                cur,
                make_schedule(cur, parties.patient_id, day),
                parties.assigned_caregiver,
                planned_start=start,
                check_in_at=start + timedelta(minutes=3),
                check_out_at=start + timedelta(minutes=123),
            )
            for phase in ("check_in", "check_out"):
                cur.execute(
                    "INSERT INTO visit_evidence (visit_id, phase, method, tag_id)"
                    " VALUES (%s, %s, 'nfc_tag', %s)",
                    (visit_id, phase, tag_id),
                )
    return len(days)


def guardian_outbox(database_url: str, user_id: int) -> list[dict[str, Any]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT event_type, channel, status, attempts, last_error FROM notification_outbox"
            " WHERE recipient_user_id = %s ORDER BY outbox_id",
            (user_id,),
        )
        return [dict(r) for r in cur.fetchall()]


def settle(
    database_url: str, user_id: int, expected_sent: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Deliver until the rows `expected_sent` picks are sent (the served app's own sender may
    hold a row under its lease for a moment); the user's rows then, whatever they are."""
    deadline = time.monotonic() + 60
    while True:
        deliver_due(budget_seconds=20)
        rows = guardian_outbox(database_url, user_id)
        picked = [r for r in rows if expected_sent(r)]
        if all(r["status"] == "sent" for r in picked) or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def make_all_due(database_url: str, user_id: int) -> None:
    """The user's waiting rows are due now (only theirs: the session database also holds other
    tests' rows, e.g. incident notices to every operator, which would crowd the sender)."""
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE notification_outbox SET next_attempt_at = now()"
            " WHERE status = 'pending' AND recipient_user_id = %s",
            (user_id,),
        )


def test_a_month_of_care_from_an_active_matching_to_its_visit_record(
    env: None,
    start_app_server: Any,
    notifications_env: dict[str, str],
    parties: Parties,
    database_url: str,
    fake_web_push: Any,
    fake_acs_email: Any,
    tmp_path: Any,
) -> None:
    app = start_app_server(**notifications_env)
    call = Client(app, parties)
    patient = parties.patient_id
    owner_id = parties.owner.user_id
    fake_acs_email.down()  # email is down for every event below

    # -- the guardian: notifications, the home, a medication ---------------------------------
    call(
        "owner",
        "PUT",
        "api/notification-preferences",
        {"quiet_start": "00:00", "quiet_end": "00:00"},
    )
    subscription = fake_web_push.subscription()
    call("owner", "POST", "api/push-subscriptions", subscription, 201)
    call("owner", "PUT", f"api/patients/{patient}/home-location", HOME)
    tag = call(
        "owner",
        "POST",
        f"api/patients/{patient}/home-tags",
        {"tag_uid": TAG_UID, "label": "현관"},
        201,
    )
    medication = call(
        "owner",
        "POST",
        f"api/patients/{patient}/medications",
        {"name": "아리셉트", "dosage": "5mg"},
        201,
    )["medication_id"]

    now = datetime.now(UTC)
    today = now.astimezone(KOREA).date()
    # Earlier days: before the day of the first visit planned below (near midnight, yesterday).
    first_planned_day = (now - timedelta(minutes=90)).astimezone(KOREA).date()
    earlier = seed_earlier_days(database_url, parties, tag["tag_id"], first_planned_day, today)

    # -- today's schedule, its task, and the visits planned ----------------------------------
    schedules: dict[Any, int] = {}
    schedule = schedule_for(call, patient, today, schedules)
    task = call(
        "owner",
        "POST",
        f"api/schedules/{schedule}/care-logs",
        {"category": "meal", "task_name": "점심 식사 도움"},
        201,
    )["care_log_id"]

    def plan(start: datetime, end: datetime) -> int:
        day_schedule = schedule_for(call, patient, start.astimezone(KOREA).date(), schedules)
        body = {"schedule_id": day_schedule, "planned_start": iso(start), "planned_end": iso(end)}
        return call("owner", "POST", f"api/patients/{patient}/visits", body, 201)["visit_id"]

    soon = now + timedelta(minutes=5)
    nfc, gps, manual = (plan(soon, soon + timedelta(hours=1)) for _ in range(3))
    late = plan(now - timedelta(minutes=20), now + timedelta(minutes=40))
    missed = plan(now - timedelta(minutes=90), now - timedelta(minutes=30))

    # -- NFC: an offline phone replays its check-in; a task done, a dose given ---------------
    check_in = {"method": "nfc_tag", "tag_uid": TAG_UID, "device_time": iso(now)}
    replay = {"Idempotency-Key": f"check-in-{uuid.uuid4().hex}"}
    first = call(
        "assigned_caregiver", "POST", f"api/visits/{nfc}/check-in", check_in, headers=replay
    )
    again = call(
        "assigned_caregiver", "POST", f"api/visits/{nfc}/check-in", check_in, headers=replay
    )
    assert again == first
    assert first["status"] == "in_progress"
    call("assigned_caregiver", "PUT", f"api/visits/{nfc}/tasks/{task}", {"outcome": "done"})
    call(
        "assigned_caregiver",
        "PUT",
        f"api/visits/{nfc}/medications/{medication}",
        {"outcome": "given", "administered_at": iso(datetime.now(UTC))},
    )
    check_out = {
        "method": "nfc_tag",
        "tag_uid": TAG_UID,
        "summary": "식사 보조 후 산책",
        "condition_notes": {"meal": "점심을 반만 드심"},
    }
    done = call("assigned_caregiver", "POST", f"api/visits/{nfc}/check-out", check_out)
    assert done["status"] == "completed"

    # -- GPS: a refused dose and an incident ---------------------------------------------------
    call("assigned_caregiver", "POST", f"api/visits/{gps}/check-in", {"method": "gps", **NEAR_HOME})
    call(
        "assigned_caregiver",
        "PUT",
        f"api/visits/{gps}/medications/{medication}",
        {"outcome": "refused", "note": "쓰다고 거부하심"},
    )
    incident = call(
        "assigned_caregiver",
        "POST",
        f"api/patients/{patient}/incidents",
        {
            "kind": "fall",
            "severity": "moderate",
            "occurred_at": iso(datetime.now(UTC) - timedelta(seconds=5)),
            "description": "화장실에서 미끄러짐",
            "actions_taken": "보호자 연락, 냉찜질",
            "visit_id": gps,
        },
        201,
    )
    call(
        "assigned_caregiver", "POST", f"api/visits/{gps}/check-out", {"method": "gps", **NEAR_HOME}
    )

    # -- by hand: flagged, then reviewed by an operator ---------------------------------------
    call(
        "assigned_caregiver",
        "POST",
        f"api/visits/{manual}/check-in",
        {"method": "manual", "reason": "NFC 인식 불가"},
    )
    by_hand = call(
        "assigned_caregiver",
        "POST",
        f"api/visits/{manual}/check-out",
        {"method": "manual", "reason": "NFC 인식 불가"},
    )
    assert by_hand["needs_review"] is True
    call("admin", "POST", f"api/visits/{manual}/review", {"note": "보호자 통화로 확인"})

    # -- a correction: the caregiver forgot to check in on arrival; the guardian approves ------
    arrived = datetime.fromisoformat(first["check_in_at"]) - timedelta(minutes=10)
    correction = call(
        "assigned_caregiver",
        "POST",
        f"api/visits/{nfc}/corrections",
        {"reason_code": "forgot_check_in", "check_in_at": iso(arrived)},
        201,
    )
    approved = call(
        "owner",
        "POST",
        f"api/visit-corrections/{correction['correction_id']}/approve",
        {"note": "확인함"},
    )
    assert approved["status"] == "approved"

    # -- the late/missed timer -----------------------------------------------------------------
    with UnitOfWork.for_job() as uow:
        watched = watch_visits(uow, now=datetime.now(UTC), late_after=timedelta(minutes=15))
    assert watched.late >= 1
    assert watched.missed >= 1
    assert call("owner", "GET", f"api/visits/{late}")["late_at"] is not None
    assert call("owner", "GET", f"api/visits/{missed}")["status"] == "missed"

    # -- notifications: email down, nothing lost ---------------------------------------------
    rows = settle(database_url, owner_id, lambda r: r["channel"] != "email")
    events = Counter(r["event_type"] for r in rows if r["channel"] == "in_app")
    assert events == {
        "visit_check_in": 3,
        "visit_check_out": 3,
        "incident": 1,
        "correction_pending": 1,
        "visit_late": 1,
        "visit_missed": 1,
    }
    assert {r["status"] for r in rows if r["channel"] == "in_app"} == {"sent"}
    assert {r["status"] for r in rows if r["channel"] == "web_push"} == {"sent"}
    emails = [r for r in rows if r["channel"] == "email"]
    assert {r["event_type"] for r in emails} >= {"incident", "visit_late", "visit_missed"}
    assert all(r["status"] == "pending" and r["attempts"] >= 1 and r["last_error"] for r in emails)
    inbox = call("owner", "GET", "api/notifications?limit=50")
    titles = {item["title"] for item in inbox["items"]}
    for label in ("사고 발생", "방문 지연", "미방문", "방문 시작", "방문 종료", "수정 승인 요청"):
        assert any(label in title for title in titles), (label, titles)
    assert len(fake_web_push.pushes_to(subscription["endpoint"])) == sum(
        1 for r in rows if r["channel"] == "web_push"
    )

    fake_acs_email.up()
    make_all_due(database_url, owner_id)
    rows = settle(database_url, owner_id, lambda r: True)
    assert {r["status"] for r in rows} == {"sent"}, rows
    mails = [m for m in fake_acs_email.sent if m.to == [parties.owner.email]]
    assert len(mails) == len(emails)  # each once

    # -- the month's record: JSON ----------------------------------------------------------------
    month = Month.containing(now)
    record = call("owner", "GET", f"api/patients/{patient}/visit-records/{month.text}")
    visits = {v["visit_id"]: v for v in record["visits"]}
    assert {nfc, gps, manual} <= set(visits)
    assert len(visits) == 3 + earlier
    assert visits[nfc]["check_in_method_label"] == "NFC 태그"
    assert visits[nfc]["corrected"] is True
    assert visits[nfc]["minutes"] >= 10
    assert visits[gps]["check_in_method_label"] == "GPS 위치"
    assert (visits[manual]["check_in_method_label"], visits[manual]["reviewed"]) == (
        "수기 기록",
        True,
    )
    doses = {(m["visit_id"], m["outcome_label"]) for m in record["medications"]}
    assert doses == {(nfc, "투약 완료"), (gps, "투약 거부")}
    assert [i["incident_id"] for i in record["incidents"]] == [incident["incident_id"]]
    physical = record["sections"][0]
    assert [(a["task_name"], a["outcome_label"]) for a in physical["activities"]] == [
        ("점심 식사 도움", "수행")
    ]
    assert {"area_label": "식사"}.items() <= record["condition_changes"][0].items()
    missed_month = Month.containing(now - timedelta(minutes=90))
    if missed_month == month:
        assert missed in {v["visit_id"] for v in record["not_delivered"]}
    # A month not over is not acknowledged yet.
    response = app.request(
        "POST",
        f"api/patients/{patient}/visit-records/{month.text}/acknowledgements",
        headers=parties.owner.headers,
    )
    assert_problem(response, 409, "visit_record_month_open")

    # -- ...and the printable PDF, through its short-lived link -------------------------------
    link = call(
        "owner",
        "POST",
        f"api/patients/{patient}/visit-records/{month.text}/download",
        {"format": "pdf"},
    )
    assert link["content_sha256"] == record["content_sha256"]
    with urllib.request.urlopen(link["url"], timeout=10) as served:
        document = served.read()
    assert document.startswith(b"%PDF-")
    (tmp_path / "record.pdf").write_bytes(document)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "record.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    for expected in PDF_SAYS:
        assert expected in text, expected
