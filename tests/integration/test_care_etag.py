"""`GET /api/schedules/{date}` is cacheable: a strong ETag of the body, 304 on If-None-Match."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date

import pytest

from tests.factories import Parties, cursor, make_care_log, make_schedule

pytestmark = pytest.mark.integration

DAY = date(2026, 4, 6)
URL = "api/schedules/2026-04-06"


@pytest.fixture
def day(parties: Parties, database_url) -> dict[str, int]:
    with cursor(database_url) as cur:
        schedule_id = make_schedule(cur, parties.patient_id, DAY)
        care_log_id = make_care_log(cur, schedule_id, task_name="아침 복약", category="medication")
    return {"schedule_id": schedule_id, "care_log_id": care_log_id}


def view_events(database_url: str, patient_id: int) -> int:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM audit_events WHERE patient_id = %s"
            " AND resource_type = 'schedule' AND action = 'view'",
            (patient_id,),
        )
        return cur.fetchone()["n"]


def test_the_etag_is_strong_stable_and_the_bodys_hash(app_server, parties: Parties, day):
    first = app_server.get(URL, headers=parties.owner.headers)
    second = app_server.get(URL, headers=parties.owner.headers)
    assert first.status_code == second.status_code == 200
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{64}"', etag)  # strong: no W/ prefix
    assert second.headers["ETag"] == etag
    canonical = json.dumps(
        first.json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert etag == '"' + hashlib.sha256(canonical).hexdigest() + '"'
    assert first.headers["Cache-Control"] == "private, max-age=300"
    assert "Authorization" in first.headers["Vary"]


def test_if_none_match_answers_304_without_a_body(app_server, parties: Parties, day, database_url):
    etag = app_server.get(URL, headers=parties.owner.headers).headers["ETag"]
    response = app_server.get(URL, headers={**parties.owner.headers, "If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == "private, max-age=300"
    # Revalidating is still a read of the patient's schedule.
    assert view_events(database_url, parties.patient_id) == 2


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "W/{etag}",
        '"something-else", {etag}',
        '"a",,  W/{etag} ,"b"',
        "*",
    ],
)
def test_if_none_match_lists_weak_tags_and_star(app_server, parties: Parties, day, header):
    etag = app_server.get(URL, headers=parties.owner.headers).headers["ETag"]
    response = app_server.get(
        URL, headers={**parties.owner.headers, "If-None-Match": header.format(etag=etag)}
    )
    assert response.status_code == 304


@pytest.mark.parametrize(
    "header",
    ['"not-the-tag"', '"not-the-tag", W/"other"', "{bare}", "garbage {etag}", ""],
)
def test_other_tags_get_the_full_body(app_server, parties: Parties, day, header):
    etag = app_server.get(URL, headers=parties.owner.headers).headers["ETag"]
    response = app_server.get(
        URL,
        headers={
            **parties.owner.headers,
            "If-None-Match": header.format(etag=etag, bare=etag.strip('"')),
        },
    )
    assert response.status_code == 200
    assert response.json()["items"][0]["schedule_id"] == day["schedule_id"]


def test_a_care_log_change_changes_the_etag(app_server, parties: Parties, day):
    old = app_server.get(URL, headers=parties.owner.headers).headers["ETag"]
    completed = app_server.request(
        "PATCH",
        f"api/care-logs/{day['care_log_id']}",
        json={"is_completed": True},
        headers=parties.assigned_caregiver.headers,
    )
    assert completed.status_code == 200, completed.text
    response = app_server.get(URL, headers={**parties.owner.headers, "If-None-Match": old})
    assert response.status_code == 200
    assert response.headers["ETag"] != old
    assert response.json()["items"][0]["care_logs"][0]["is_completed"] is True
    # And the new tag revalidates.
    again = app_server.get(
        URL, headers={**parties.owner.headers, "If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_new_logs_and_schedule_changes_change_the_etag(app_server, parties: Parties, day):
    headers = parties.owner.headers
    tags = [app_server.get(URL, headers=headers).headers["ETag"]]
    added = app_server.request(
        "POST",
        f"api/schedules/{day['schedule_id']}/care-logs",
        json={"category": "meal", "task_name": "점심 식사"},
        headers=headers,
    )
    assert added.status_code == 201
    tags.append(app_server.get(URL, headers=headers).headers["ETag"])
    changed = app_server.request(
        "PATCH",
        f"api/schedules/{day['schedule_id']}",
        json={"status": "completed"},
        headers=headers,
    )
    assert changed.status_code == 200
    tags.append(app_server.get(URL, headers=headers).headers["ETag"])
    assert len(set(tags)) == 3
    stale = app_server.get(URL, headers={**headers, "If-None-Match": tags[0]})
    assert stale.status_code == 200


def test_each_caller_has_its_own_representation(app_server, parties: Parties, day):
    """The caregiver's and the guardian's days differ once the guardian has another patient."""
    owner_tag = app_server.get(URL, headers=parties.owner.headers).headers["ETag"]
    caregiver = app_server.get(URL, headers=parties.assigned_caregiver.headers)
    assert caregiver.headers["ETag"] == owner_tag  # the same schedules, the same body
    outsider = app_server.get(
        URL, headers={**parties.other_guardian.headers, "If-None-Match": owner_tag}
    )
    assert outsider.status_code == 200
    assert outsider.json()["items"] == []
