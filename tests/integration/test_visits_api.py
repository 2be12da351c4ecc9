"""Visits over HTTP: planning, check-in and check-out with NFC, GPS and manual evidence, each
refusal with its problem code (and nothing written), one visit in progress per caregiver, the
24-hour limit, cancellation, review, the home's tags and location, and Idempotency-Key replays
(an offline phone's queue sent twice writes once; replays at the same time take turns)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.dates import KOREA
from tests.factories import Parties, cursor, make_caregiver, make_matching, make_schedule
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

HOME = (37.566535, 126.977969)  # 서울시청
NEAR = (37.5670, 126.9780)  # about 50 m away
FAR = (37.5700, 126.9900)  # about 1.2 km away


@dataclass
class VisitSetup:
    parties: Parties
    schedule_id: int
    visit: dict[str, Any]
    tag: dict[str, Any] | None = None

    @property
    def path(self) -> str:
        return f"api/visits/{self.visit['visit_id']}"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def plan(app_server, database_url, parties: Parties, *, starts_in=timedelta(minutes=5), **extra):
    """A schedule on the Korea day of the start, and a visit planned on it by the owner."""
    start = datetime.now(UTC) + starts_in
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, start.astimezone(KOREA).date())
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/visits",
        headers=parties.headers("owner"),
        json={
            "schedule_id": schedule_id,
            "planned_start": iso(start),
            "planned_end": iso(start + timedelta(hours=2)),
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return VisitSetup(parties, schedule_id, response.json())


@pytest.fixture
def setup(app_server, database_url, parties: Parties) -> VisitSetup:
    """A planned visit starting in 5 minutes, a registered tag and the home's location."""
    owner = parties.headers("owner")
    tag = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/home-tags",
        headers=owner,
        json={"tag_uid": f"04:{uuid.uuid4().hex[:12]}", "label": "현관"},
    )
    assert tag.status_code == 201, tag.text
    where = app_server.request(
        "PUT",
        f"api/patients/{parties.patient_id}/home-location",
        headers=owner,
        json={"latitude": HOME[0], "longitude": HOME[1]},
    )
    assert where.status_code == 200, where.text
    made = plan(app_server, database_url, parties)
    made.tag = tag.json()
    return made


def tag_uid(setup: VisitSetup) -> str:
    assert setup.tag is not None
    return setup.tag["tag_uid"]


def call(app_server, setup: VisitSetup, action: str, body: dict, who="assigned_caregiver", **kw):
    return app_server.request(
        "POST", f"{setup.path}/{action}", headers={**setup.parties.headers(who), **kw}, json=body
    )


def written(database_url: str, visit_id: int) -> dict[str, Any]:
    """What is stored about the visit: its row, evidence, outbox rows and audit events."""
    with cursor(database_url) as cur:
        cur.execute("SELECT * FROM visits WHERE visit_id = %s", (visit_id,))
        visit = cur.fetchone()
        cur.execute("SELECT * FROM visit_evidence WHERE visit_id = %s ORDER BY phase", (visit_id,))
        evidence = cur.fetchall()
        cur.execute(
            "SELECT o.event_type, o.channel, o.payload, u.role FROM notification_outbox o"
            " JOIN users u ON u.user_id = o.recipient_user_id"
            " WHERE o.payload ->> 'visit_id' = %s ORDER BY o.outbox_id",
            (str(visit_id),),
        )
        outbox = cur.fetchall()
        cur.execute(
            "SELECT action, detail FROM audit_events WHERE resource_type = 'visit'"
            " AND resource_id = %s ORDER BY event_id",
            (str(visit_id),),
        )
        audit = cur.fetchall()
    return {"visit": visit, "evidence": evidence, "outbox": outbox, "audit": audit}


def nfc(setup: VisitSetup, **extra) -> dict[str, Any]:
    return {"method": "nfc_tag", "tag_uid": tag_uid(setup), **extra}


def gps(point=NEAR, accuracy=20.0, **extra) -> dict[str, Any]:
    return {"method": "gps", "latitude": point[0], "longitude": point[1], "accuracy_m": accuracy,
            **extra}  # fmt: skip


# -- the happy paths -------------------------------------------------------------------------


def test_a_visit_is_planned_checked_in_by_tag_and_out_by_gps(app_server, database_url, setup):
    assert setup.visit["status"] == "planned"
    assert setup.visit["matching_id"] == setup.parties.matching_id
    assert setup.visit["evidence"] == []
    device = datetime.now(UTC) - timedelta(seconds=30)
    started = call(app_server, setup, "check-in", nfc(setup, device_time=iso(device)))
    assert started.status_code == 200, started.text
    body = started.json()
    assert (body["status"], body["status_label"]) == ("in_progress", "방문 중")
    assert body["check_in_at"] is not None
    (ev,) = body["evidence"]
    assert (ev["phase"], ev["method"], ev["tag_label"]) == ("check_in", "nfc_tag", "현관")
    assert (ev["phase_label"], ev["method_label"]) == ("방문 시작", "NFC 태그")
    assert ev["tag_uid"] is None  # the caregiver does not see registered uids
    assert datetime.fromisoformat(ev["device_time"]) == device
    assert ev["recorded_at"] == body["check_in_at"]  # the server's time is the record

    ended = call(
        app_server,
        setup,
        "check-out",
        {
            **gps(),
            "summary": "식사 보조와 산책을 했습니다.",
            "condition_notes": {"meal": "죽 반 공기", "cognitive": "평소와 같음"},
        },
    )
    assert ended.status_code == 200, ended.text
    done = ended.json()
    assert done["status"] == "completed"
    assert done["locked_at"] == done["check_out_at"]
    assert done["condition_notes"] == {
        "physical": None, "meal": "죽 반 공기", "cognitive": "평소와 같음", "toileting": None,
    }  # fmt: skip
    out = next(e for e in done["evidence"] if e["phase"] == "check_out")
    assert out["method"] == "gps"
    assert 0 < out["distance_m"] < 150
    assert done["needs_review"] is False

    # The guardian reads it with the tag's uid; the events went to the guardian's outbox.
    seen = app_server.get(setup.path, headers=setup.parties.headers("owner")).json()
    assert seen["evidence"][0]["tag_uid"] == tag_uid(setup)
    stored = written(database_url, setup.visit["visit_id"])
    events = {(row["event_type"], row["role"]) for row in stored["outbox"]}
    assert events == {("visit_check_in", "guardian"), ("visit_check_out", "guardian")}
    check_out_payload = next(
        r["payload"] for r in stored["outbox"] if r["event_type"] == "visit_check_out"
    )
    assert check_out_payload["summary"] == "식사 보조와 산책을 했습니다."
    assert [(a["action"], (a["detail"] or {}).get("phase")) for a in stored["audit"]] == [
        ("create", None), ("update", "check_in"), ("update", "check_out"), ("view", None),
    ]  # fmt: skip


def test_a_manual_check_in_is_flagged_and_an_operator_reviews_it(app_server, database_url, setup):
    started = call(app_server, setup, "check-in", {"method": "manual", "reason": "태그 분실"})
    assert started.status_code == 200, started.text
    assert started.json()["needs_review"] is True
    admin = setup.parties.headers("admin")
    queue = app_server.get("api/admin/visits?needs_review=true&limit=100", headers=admin).json()
    assert setup.visit["visit_id"] in {v["visit_id"] for v in queue["items"]}

    reviewed = call(app_server, setup, "review", {"note": "보호자와 통화로 확인"}, who="admin")
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["reviewed_at"] is not None
    assert reviewed.json()["reviewed_by"] == setup.parties.admin.user_id
    again = call(app_server, setup, "review", {}, who="admin")
    assert_problem(again, 409, "conflict")
    queue = app_server.get("api/admin/visits?needs_review=true&limit=100", headers=admin).json()
    assert setup.visit["visit_id"] not in {v["visit_id"] for v in queue["items"]}


def test_the_patients_visits_are_listed_by_day_and_status(app_server, database_url, setup):
    owner = setup.parties.headers("owner")
    day = datetime.fromisoformat(setup.visit["planned_start"]).astimezone(KOREA).date()
    path = f"api/patients/{setup.parties.patient_id}/visits"
    listed = app_server.get(f"{path}?from={day}&to={day}", headers=owner).json()
    assert [v["visit_id"] for v in listed["items"]] == [setup.visit["visit_id"]]
    assert listed["total"] == 1
    other_day = day + timedelta(days=1)
    assert app_server.get(f"{path}?from={other_day}", headers=owner).json()["total"] == 0
    assert app_server.get(f"{path}?status=completed", headers=owner).json()["total"] == 0
    bad = app_server.get(f"{path}?from={day}&to={day - timedelta(days=1)}", headers=owner)
    assert_problem(bad, 422, "validation_error")


# -- planning refusals -----------------------------------------------------------------------


def test_planning_refuses_what_does_not_fit(app_server, database_url, parties: Parties):
    owner = parties.headers("owner")
    start = datetime.now(UTC) + timedelta(days=1)
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, start.astimezone(KOREA).date())
        other_patient_schedule = make_schedule(
            cur, _patient_of(cur, parties.other_guardian.user_id), start.date()
        )
        cancelled = make_schedule(
            cur, parties.patient_id, start.astimezone(KOREA).date() + timedelta(days=1),
            status="cancelled",
        )  # fmt: skip
    path = f"api/patients/{parties.patient_id}/visits"
    good = {
        "schedule_id": schedule_id,
        "planned_start": iso(start),
        "planned_end": iso(start + timedelta(hours=1)),
    }

    def refused(body: dict, field: str) -> None:
        response = app_server.request("POST", path, headers=owner, json={**good, **body})
        problem = assert_problem(response, 422, "validation_error")
        assert ["body", field] in [e["loc"] for e in problem["errors"]], problem

    refused({"schedule_id": other_patient_schedule}, "schedule_id")
    refused({"schedule_id": cancelled}, "schedule_id")
    refused({"planned_start": iso(start + timedelta(days=2)),
             "planned_end": iso(start + timedelta(days=2, hours=1))}, "planned_start")  # fmt: skip
    refused({"planned_end": iso(start - timedelta(hours=1))}, "planned_end")
    refused({"planned_end": iso(start + timedelta(hours=25))}, "planned_end")
    refused({"planned_start": "2026-12-07T10:00:00"}, "planned_start")  # no offset
    refused({"matching_id": 2**62}, "matching_id")
    with cursor(database_url) as cur:
        make_matching(cur, parties.patient_id, make_caregiver(cur), status="active")
    refused({}, "matching_id")  # two active matchings and none named
    named = app_server.request(
        "POST", path, headers=owner, json={**good, "matching_id": parties.matching_id}
    )
    assert named.status_code == 201, named.text
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM visits WHERE patient_id = %s", (parties.patient_id,))
        assert cur.fetchone()["n"] == 1


def _patient_of(cur, guardian_user_id: int) -> int:
    cur.execute(
        "SELECT p.patient_id FROM patients p JOIN guardians g USING (guardian_id)"
        " WHERE g.user_id = %s",
        (guardian_user_id,),
    )
    return cur.fetchone()["patient_id"]


def test_a_patient_without_an_active_matching_cannot_have_visits_planned(
    app_server, database_url, parties: Parties
):
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE matching_results SET status = 'completed' WHERE matching_id = %s",
            (parties.matching_id,),
        )
        schedule_id = make_schedule(cur, parties.patient_id, datetime.now(KOREA).date())
    start = datetime.now(KOREA).replace(hour=23, minute=0, second=0, microsecond=0)
    response = app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/visits",
        headers=parties.headers("owner"),
        json={"schedule_id": schedule_id, "planned_start": iso(start),
              "planned_end": iso(start + timedelta(minutes=30))},
    )  # fmt: skip
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "matching_id"]


# -- evidence refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"method": "nfc_tag", "tag_uid": "FF:FF:FF:FF"}, "tag_not_registered"),
        (gps(FAR), "outside_home_radius"),
        (gps(NEAR, accuracy=250), "gps_accuracy_too_low"),
    ],
)
def test_evidence_that_does_not_show_the_home_is_refused_and_writes_nothing(
    app_server, database_url, setup, body, code
):
    before = written(database_url, setup.visit["visit_id"])
    assert_problem(call(app_server, setup, "check-in", body), 422, code)
    assert written(database_url, setup.visit["visit_id"]) == before


def test_a_tag_of_another_home_or_a_removed_one_is_refused(app_server, database_url, setup):
    with cursor(database_url) as cur:
        other_patient = _patient_of(cur, setup.parties.other_guardian.user_id)
    foreign_uid = f"AA:{uuid.uuid4().hex[:10]}"
    added = app_server.request(
        "POST",
        f"api/patients/{other_patient}/home-tags",
        headers=setup.parties.headers("other_guardian"),
        json={"tag_uid": foreign_uid},
    )
    assert added.status_code == 201, added.text
    assert_problem(
        call(app_server, setup, "check-in", {"method": "nfc_tag", "tag_uid": foreign_uid}),
        422,
        "tag_not_registered",
    )
    # The same uid cannot be registered to this home while it is active in the other one.
    clash = app_server.request(
        "POST",
        f"api/patients/{setup.parties.patient_id}/home-tags",
        headers=setup.parties.headers("owner"),
        json={"tag_uid": foreign_uid},
    )
    assert_problem(clash, 409, "conflict")
    # A removed tag no longer shows the home.
    assert setup.tag is not None
    tag_id = setup.tag["tag_id"]
    removed = app_server.request(
        "DELETE",
        f"api/patients/{setup.parties.patient_id}/home-tags/{tag_id}",
        headers=setup.parties.headers("owner"),
    )
    assert removed.status_code == 204, removed.text
    assert_problem(call(app_server, setup, "check-in", nfc(setup)), 422, "tag_not_registered")
    tags = app_server.get(
        f"api/patients/{setup.parties.patient_id}/home-tags",
        headers=setup.parties.headers("owner"),
    ).json()
    assert [(t["tag_id"], t["active"]) for t in tags["items"]] == [(tag_id, False)]


def test_gps_needs_the_home_location(app_server, database_url, parties: Parties):
    made = plan(app_server, database_url, parties)
    assert_problem(call(app_server, made, "check-in", gps()), 422, "home_location_not_set")


def test_evidence_fields_must_match_the_method(app_server, database_url, setup):
    response = call(app_server, setup, "check-in", {"method": "manual"})
    problem = assert_problem(response, 422, "validation_error")
    assert ["body", "reason"] in [e["loc"] for e in problem["errors"]]
    response = call(app_server, setup, "check-in", {**gps(), "tag_uid": tag_uid(setup)})
    problem = assert_problem(response, 422, "validation_error")
    assert ["body", "tag_uid"] in [e["loc"] for e in problem["errors"]]
    assert written(database_url, setup.visit["visit_id"])["evidence"] == []


# -- timing and state ------------------------------------------------------------------------


def test_check_in_opens_fifteen_minutes_before_the_start(app_server, database_url, parties):
    made = plan(app_server, database_url, parties, starts_in=timedelta(minutes=40))
    response = call(app_server, made, "check-in", {"method": "manual", "reason": "기기 고장"})
    assert_problem(response, 409, "check_in_too_early")
    assert written(database_url, made.visit["visit_id"])["visit"]["status"] == "planned"


def test_a_caregiver_is_in_one_visit_at_a_time(app_server, database_url, setup):
    assert call(app_server, setup, "check-in", nfc(setup)).status_code == 200
    second = plan(app_server, database_url, setup.parties, starts_in=timedelta(minutes=10))
    response = call(app_server, second, "check-in", nfc(setup))
    problem = assert_problem(response, 409, "visit_in_progress")
    assert str(setup.visit["visit_id"]) in problem["detail"]


def test_two_check_ins_of_one_caregiver_at_once_get_one_visit(app_server, database_url, setup):
    second = plan(app_server, database_url, setup.parties, starts_in=timedelta(minutes=10))
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda made: call(app_server, made, "check-in", nfc(setup)),
                                [setup, second]))  # fmt: skip
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 409)
    assert_problem(refused, 409, "visit_in_progress")
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM visits WHERE visit_id IN (%s, %s)"
            " AND status = 'in_progress'",
            (setup.visit["visit_id"], second.visit["visit_id"]),
        )
        assert cur.fetchone()["n"] == 1


def test_a_visit_cannot_last_more_than_a_day(app_server, database_url, setup):
    assert call(app_server, setup, "check-in", nfc(setup)).status_code == 200
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE visits SET check_in_at = now() - interval '25 hours' WHERE visit_id = %s",
            (setup.visit["visit_id"],),
        )
    response = call(app_server, setup, "check-out", nfc(setup))
    assert_problem(response, 409, "visit_too_long")
    assert written(database_url, setup.visit["visit_id"])["visit"]["status"] == "in_progress"


def test_only_open_visits_are_checked_into_or_out_of(app_server, database_url, setup):
    assert_problem(call(app_server, setup, "check-out", nfc(setup)), 409, "visit_not_open")
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE visits SET status = 'missed', missed_at = now() WHERE visit_id = %s",
            (setup.visit["visit_id"],),
        )
    assert_problem(call(app_server, setup, "check-in", nfc(setup)), 409, "visit_not_open")


def test_a_late_visit_may_still_be_checked_into(app_server, database_url, setup):
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE visits SET late_at = now() WHERE visit_id = %s", (setup.visit["visit_id"],)
        )
    response = call(app_server, setup, "check-in", nfc(setup))
    assert response.status_code == 200, response.text
    assert response.json()["late_at"] is not None
    assert response.json()["status"] == "in_progress"


# -- cancel ----------------------------------------------------------------------------------


def test_a_caregivers_short_notice_cancellation_alerts_family_and_operators(
    app_server, database_url, setup
):
    response = call(app_server, setup, "cancel", {"reason": "개인 사정"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancel_reason"] == "개인 사정"
    outbox = written(database_url, setup.visit["visit_id"])["outbox"]
    roles = {row["role"] for row in outbox if row["event_type"] == "visit_cancelled"}
    assert roles == {"guardian", "admin"}
    assert_problem(call(app_server, setup, "cancel", {"reason": "다시"}), 409, "visit_not_open")
    assert_problem(call(app_server, setup, "check-in", nfc(setup)), 409, "visit_not_open")


def test_a_guardians_cancellation_or_an_early_one_alerts_nobody(app_server, database_url, parties):
    soon = plan(app_server, database_url, parties)
    by_owner = call(app_server, soon, "cancel", {"reason": "병원 일정"}, who="owner")
    assert by_owner.status_code == 200, by_owner.text
    later = plan(app_server, database_url, parties, starts_in=timedelta(days=3))
    assert call(app_server, later, "cancel", {"reason": "개인 사정"}).status_code == 200
    for made in (soon, later):
        assert written(database_url, made.visit["visit_id"])["outbox"] == []


# -- Idempotency-Key -------------------------------------------------------------------------


def test_an_offline_queue_replayed_gets_its_first_answers_and_writes_once(
    app_server, database_url, setup
):
    """Check-in, a care log added and completed, check-out: sent, then sent again."""
    caregiver = setup.parties.headers("assigned_caregiver")
    device = datetime.now(UTC) - timedelta(minutes=1)
    queue = [
        ("POST", f"{setup.path}/check-in", nfc(setup, device_time=iso(device))),
        ("POST", f"api/schedules/{setup.schedule_id}/care-logs",
         {"category": "meal", "task_name": "점심 식사 보조"}),
    ]  # fmt: skip
    keys = [f"offline-{uuid.uuid4()}" for _ in range(4)]

    def send(i: int, method: str, path: str, body: dict):
        return app_server.request(
            method, path, headers={**caregiver, "Idempotency-Key": keys[i]}, json=body
        )

    first = [send(i, *item) for i, item in enumerate(queue)]
    assert [r.status_code for r in first] == [200, 201], [r.text for r in first]
    log_id = first[1].json()["care_log_id"]
    queue += [
        ("PATCH", f"api/care-logs/{log_id}", {"is_completed": True, "note": "다 드심"}),
        ("POST", f"{setup.path}/check-out", {**gps(), "summary": "점심 보조"}),
    ]
    first += [send(i, *queue[i]) for i in (2, 3)]
    assert [r.status_code for r in first] == [200, 201, 200, 200], [r.text for r in first]
    stored_before = written(database_url, setup.visit["visit_id"])

    again = [send(i, *item) for i, item in enumerate(queue)]
    assert [r.status_code for r in again] == [200, 201, 200, 200]
    for one, two in zip(first, again, strict=True):
        assert two.json() == one.json()
        assert two.headers.get("Idempotent-Replayed") == "true"
        assert "Idempotent-Replayed" not in one.headers
    # The replayed check-in still says "in progress": the first answer, not today's state.
    assert again[0].json()["status"] == "in_progress"
    stored_after = written(database_url, setup.visit["visit_id"])
    assert stored_after["evidence"] == stored_before["evidence"]
    assert stored_after["outbox"] == stored_before["outbox"]
    assert stored_after["evidence"][0]["device_time"] == device
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM care_logs WHERE schedule_id = %s", (setup.schedule_id,)
        )
        assert cur.fetchone()["n"] == 1
        cur.execute(
            "SELECT count(*) AS n FROM idempotency_keys WHERE user_id = %s",
            (setup.parties.assigned_caregiver.user_id,),
        )
        assert cur.fetchone()["n"] == 4


def test_a_key_reused_for_another_request_or_malformed_is_refused(app_server, database_url, setup):
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert call(app_server, setup, "check-in", nfc(setup), **key).status_code == 200
    other = call(app_server, setup, "check-in", gps(), **key)
    assert_problem(other, 422, "idempotency_key_reused")
    short = call(app_server, setup, "check-out", nfc(setup), **{"Idempotency-Key": "short"})
    problem = assert_problem(short, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert written(database_url, setup.visit["visit_id"])["visit"]["status"] == "in_progress"


def test_a_refused_request_is_not_remembered(app_server, database_url, setup):
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"method": "nfc_tag", "tag_uid": "EE:EE:EE:EE"}
    assert_problem(call(app_server, setup, "check-in", body, **key), 422, "tag_not_registered")
    with cursor(database_url) as cur:
        cur.execute(
            "INSERT INTO home_tags (patient_id, tag_uid) VALUES (%s, 'EE:EE:EE:EE')"
            " ON CONFLICT DO NOTHING",
            (setup.parties.patient_id,),
        )
    assert call(app_server, setup, "check-in", body, **key).status_code == 200


def test_concurrent_replays_of_one_key_take_turns(app_server, database_url, setup):
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = nfc(setup)
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: call(app_server, setup, "check-in", body, **key),
                                range(6)))  # fmt: skip
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert len({r.text for r in answers}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 5
    stored = written(database_url, setup.visit["visit_id"])
    assert len(stored["evidence"]) == 1
    assert len([r for r in stored["outbox"] if r["event_type"] == "visit_check_in"]) >= 1
    assert len({(r["event_type"], r["channel"], r["role"]) for r in stored["outbox"]}) == len(
        stored["outbox"]
    )


def test_expired_keys_are_pruned_by_maintenance(app_server, app_env, database_url, setup):
    from shared.operations.maintenance import run_maintenance

    key = f"k-{uuid.uuid4()}"
    assert call(app_server, setup, "check-in", nfc(setup), **{"Idempotency-Key": key}).ok
    fresh = f"k-{uuid.uuid4()}"
    assert call(app_server, setup, "check-out", nfc(setup), **{"Idempotency-Key": fresh}).ok
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '73 hours'"
            " WHERE idempotency_key = %s",
            (key,),
        )
    report = run_maintenance(database_url)
    assert report["pruned"]["idempotency_keys"] >= 1
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT idempotency_key FROM idempotency_keys WHERE idempotency_key IN (%s, %s)",
            (key, fresh),
        )
        assert [row["idempotency_key"] for row in cur.fetchall()] == [fresh]


def test_an_expired_key_may_be_used_afresh(app_server, database_url, setup):
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert call(app_server, setup, "check-in", nfc(setup), **key).status_code == 200
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '73 hours'"
            " WHERE idempotency_key = %s",
            (key["Idempotency-Key"],),
        )
    response = call(app_server, setup, "check-out", nfc(setup), **key)
    assert response.status_code == 200, response.text
    assert "Idempotent-Replayed" not in response.headers
    assert response.json()["status"] == "completed"
