"""The notification API over HTTP: my inbox (newest first, unread, paging, read, read-all), my
preferences (defaults, partial change, validation) and my push subscriptions; another person's
notification or subscription is a 404 that changes nothing; anonymous callers get 401."""

from __future__ import annotations

import time
from typing import Any

import pytest

from models.vocabularies import NotificationEvent
from shared.notifications.outbox import Notice, publish
from shared.notifications.sender import deliver_due
from shared.unit_of_work import UnitOfWork
from tests.factories import TestUser, cursor, make_guardian, make_patient, make_user
from tests.fakes.web_push import new_vapid_key
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

SUBSCRIPTION: dict[str, Any] = {
    "endpoint": "https://push.example.test/push/abcdef0123456789",
    "keys": {"p256dh": "B" + "A" * 86, "auth": "c2VjcmV0LWF1dGg"},
}


def family(database_url: str) -> tuple[TestUser, int]:
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        return guardian, make_patient(cur, guardian, name="이순자")


def delivered(database_url: str, patient_id: int, *events: tuple[NotificationEvent, str]) -> None:
    """Publish the events and deliver the in-app entries (no channel configured: the others
    are skipped)."""
    for event, key in events:
        with UnitOfWork.for_job() as uow:
            publish(
                uow,
                Notice(event, key=key, patient_id=patient_id, data={"visit_id": 1}),
            )
    # The session database may hold other tests' due rows ahead of these (the sender takes the
    # oldest first): deliver until this patient's in-app rows are settled.
    deadline = time.monotonic() + 90
    while _pending(patient_id) and time.monotonic() < deadline:
        deliver_due(budget_seconds=10)


def _pending(patient_id: int) -> int:
    with UnitOfWork.for_job() as uow:
        uow.cursor.execute(
            "SELECT count(*) AS n FROM notification_outbox"
            " WHERE patient_id = %s AND channel = 'in_app' AND status = 'pending'",
            (patient_id,),
        )
        row = uow.cursor.fetchone()
    return int(row["n"]) if row else 0


def notification_ids(database_url: str, user: TestUser) -> list[int]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT notification_id FROM notifications WHERE user_id = %s ORDER BY 1",
            (user.user_id,),
        )
        return [r["notification_id"] for r in cur.fetchall()]


def test_my_inbox_newest_first_unread_paging_and_read(app_env, app_server, database_url):
    guardian, patient_id = family(database_url)
    delivered(
        database_url,
        patient_id,
        (NotificationEvent.VISIT_CHECK_IN, "api:1:in"),
        (NotificationEvent.VISIT_CHECK_OUT, "api:1:out"),
        (NotificationEvent.VISIT_LATE, "api:2:late"),
    )
    response = app_server.get("api/notifications", headers=guardian.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 3
    assert page["unread"] == 3
    assert [n["event_type"] for n in page["items"]] == [
        "visit_late",
        "visit_check_out",
        "visit_check_in",
    ]
    first = page["items"][0]
    assert first["event_label"] == "방문 지연"
    assert first["title"] == "[늘봄케어] 방문 지연"
    assert "이순자 님" in first["body"]
    assert first["patient_id"] == patient_id
    assert first["read_at"] is None

    second = app_server.get("api/notifications?limit=1&offset=1", headers=guardian.headers)
    assert [n["event_type"] for n in second.json()["items"]] == ["visit_check_out"]

    read = app_server.request(
        "POST", f"api/notifications/{first['notification_id']}/read", headers=guardian.headers
    )
    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    unread = app_server.get("api/notifications?unread=true", headers=guardian.headers).json()
    assert unread["total"] == 2
    assert first["notification_id"] not in [n["notification_id"] for n in unread["items"]]

    everything = app_server.request("POST", "api/notifications/read-all", headers=guardian.headers)
    assert everything.json() == {"marked": 2}
    assert app_server.get("api/notifications", headers=guardian.headers).json()["unread"] == 0

    with cursor(database_url) as cur:  # reading the inbox is audited per patient named
        cur.execute(
            """SELECT count(*) AS n FROM audit_events
               WHERE actor_user_id = %s AND action = 'view' AND resource_type = 'notification'
                 AND patient_id = %s""",
            (guardian.user_id, patient_id),
        )
        assert cur.fetchone()["n"] >= 3


def test_someone_elses_notification_is_404_and_stays_unread(app_env, app_server, database_url):
    guardian, patient_id = family(database_url)
    delivered(database_url, patient_id, (NotificationEvent.VISIT_MISSED, "api:3:missed"))
    (notification_id,) = notification_ids(database_url, guardian)
    with cursor(database_url) as cur:
        other = make_guardian(cur)
        admin = make_user(cur, "admin")
    for intruder in (other, admin):
        response = app_server.request(
            "POST", f"api/notifications/{notification_id}/read", headers=intruder.headers
        )
        assert_problem(response, 404, "not_found")
        items = app_server.get("api/notifications", headers=intruder.headers).json()["items"]
        assert notification_id not in [n["notification_id"] for n in items]
    app_server.request("POST", "api/notifications/read-all", headers=other.headers)
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT read_at FROM notifications WHERE notification_id = %s", (notification_id,)
        )
        assert cur.fetchone()["read_at"] is None


def test_marking_one_read_is_audited_as_a_view_of_the_patient(app_env, app_server, database_url):
    """The answer of POST .../read shows the notification (the patient's name in its body), so
    it is audited like the inbox read, by the patient and the notification's id."""
    guardian, patient_id = family(database_url)
    delivered(database_url, patient_id, (NotificationEvent.INCIDENT, "api:4:incident"))
    (notification_id,) = notification_ids(database_url, guardian)
    read = app_server.request(
        "POST", f"api/notifications/{notification_id}/read", headers=guardian.headers
    )
    assert read.status_code == 200, read.text
    assert "이순자" in read.json()["body"]
    with cursor(database_url) as cur:
        cur.execute(
            """SELECT count(*) AS n FROM audit_events
               WHERE actor_user_id = %s AND action = 'view' AND resource_type = 'notification'
                 AND patient_id = %s AND resource_id = %s""",
            (guardian.user_id, patient_id, str(notification_id)),
        )
        assert cur.fetchone()["n"] == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "api/notifications"),
        ("POST", "api/notifications/1/read"),
        ("POST", "api/notifications/read-all"),
        ("GET", "api/notifications/web-push-key"),
        ("GET", "api/notification-preferences"),
        ("PUT", "api/notification-preferences"),
        ("POST", "api/push-subscriptions"),
        ("DELETE", "api/push-subscriptions/1"),
    ],
)
def test_anonymous_callers_get_401(app_server, method, path):
    assert_problem(app_server.request(method, path, json={}), 401, "unauthorized")


def test_preferences_default_then_a_partial_change(app_server, database_url):
    with cursor(database_url) as cur:
        caregiver = make_user(cur, "caregiver")
    defaults = app_server.get("api/notification-preferences", headers=caregiver.headers).json()
    assert defaults["customized"] is False
    assert defaults["quiet_start"] == "22:00"
    assert defaults["quiet_end"] == "07:00"
    assert defaults["time_zone"] == "Asia/Seoul"
    assert defaults["channels"]["incident"] == ["in_app", "web_push", "email"]
    assert defaults["channels"]["visit_check_in"] == ["in_app", "web_push"]

    saved = app_server.request(
        "PUT",
        "api/notification-preferences",
        headers=caregiver.headers,
        json={
            "channels": {"visit_check_in": [], "visit_late": ["email", "email"]},
            "quiet_start": "23:30",
            "quiet_end": "06:00",
            "time_zone": "America/New_York",
        },
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["customized"] is True
    assert body["channels"]["visit_check_in"] == []
    assert body["channels"]["visit_late"] == ["email"]
    assert body["channels"]["incident"] == ["in_app", "web_push", "email"]  # not named: kept
    assert (body["quiet_start"], body["quiet_end"]) == ("23:30", "06:00")
    assert app_server.get("api/notification-preferences", headers=caregiver.headers).json() == body


def test_preferences_decide_which_channels_publish_writes(app_env, app_server, database_url):
    guardian, patient_id = family(database_url)
    app_server.request(
        "PUT",
        "api/notification-preferences",
        headers=guardian.headers,
        json={"channels": {"visit_check_in": ["in_app"]}},
    )
    with UnitOfWork.for_job() as uow:
        publish(uow, Notice(NotificationEvent.VISIT_CHECK_IN, key="pref:1", patient_id=patient_id))
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT channel FROM notification_outbox WHERE recipient_user_id = %s",
            (guardian.user_id,),
        )
        assert [r["channel"] for r in cur.fetchall()] == ["in_app"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"quiet_end": "07:00:30"}, "quiet_end"),
        ({"channels": {"visit_check_in": ["sms"]}}, "channels"),
        ({"channels": {"birthday": ["email"]}}, "channels"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_preferences_are_422_naming_the_field_and_change_nothing(
    app_server, database_url, body, field
):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
    response = app_server.request(
        "PUT", "api/notification-preferences", headers=guardian.headers, json=body
    )
    problem = assert_problem(response, 422, "validation_error")
    assert any(field in [str(part) for part in e["loc"]] for e in problem["errors"]), problem
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM notification_preferences WHERE user_id = %s",
            (guardian.user_id,),
        )
        assert cur.fetchone()["n"] == 0


def subscriptions_of(database_url: str, user: TestUser) -> list[dict[str, Any]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT subscription_id, endpoint FROM push_subscriptions WHERE user_id = %s",
            (user.user_id,),
        )
        return [dict(r) for r in cur.fetchall()]


def test_push_subscriptions_mine_to_add_and_remove(app_server, database_url):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        other = make_guardian(cur)
    body = {**SUBSCRIPTION, "endpoint": SUBSCRIPTION["endpoint"] + str(guardian.user_id)}
    created = app_server.request(
        "POST", "api/push-subscriptions", headers=guardian.headers, json=body
    )
    assert created.status_code == 201, created.text
    subscription_id = created.json()["subscription_id"]
    assert created.json()["endpoint"] == body["endpoint"]
    again = app_server.request(
        "POST", "api/push-subscriptions", headers=guardian.headers, json=body
    )
    assert again.json()["subscription_id"] == subscription_id  # one row per endpoint
    assert len(subscriptions_of(database_url, guardian)) == 1

    refused = app_server.request(
        "DELETE", f"api/push-subscriptions/{subscription_id}", headers=other.headers
    )
    assert_problem(refused, 404, "not_found")
    assert len(subscriptions_of(database_url, guardian)) == 1

    gone = app_server.request(
        "DELETE", f"api/push-subscriptions/{subscription_id}", headers=guardian.headers
    )
    assert gone.status_code == 204
    assert subscriptions_of(database_url, guardian) == []
    assert_problem(
        app_server.request(
            "DELETE", f"api/push-subscriptions/{subscription_id}", headers=guardian.headers
        ),
        404,
        "not_found",
    )


def test_another_accounts_endpoint_moves_only_with_the_same_keys(app_server, database_url):
    """Knowing an endpoint is not enough to take its pushes: another account's endpoint with
    other keys is a 409 that changes nothing; with the browser's own keys (a shared computer)
    it moves to the caller."""
    with cursor(database_url) as cur:
        owner = make_guardian(cur)
        intruder = make_guardian(cur)
        next_user = make_guardian(cur)
    body = {**SUBSCRIPTION, "endpoint": SUBSCRIPTION["endpoint"] + "-t" + str(owner.user_id)}
    created = app_server.request("POST", "api/push-subscriptions", headers=owner.headers, json=body)
    assert created.status_code == 201, created.text
    subscription_id = created.json()["subscription_id"]

    other_keys = {"p256dh": "B" + "Q" * 86, "auth": "b3RoZXItYXV0aA"}
    for keys in (other_keys, {**body["keys"], "auth": other_keys["auth"]}):
        refused = app_server.request(
            "POST", "api/push-subscriptions", headers=intruder.headers, json={**body, "keys": keys}
        )
        assert_problem(refused, 409, "conflict")
    assert subscriptions_of(database_url, intruder) == []
    assert subscriptions_of(database_url, owner) == [
        {"subscription_id": subscription_id, "endpoint": body["endpoint"]}
    ]
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT p256dh, auth FROM push_subscriptions WHERE subscription_id = %s",
            (subscription_id,),
        )
        assert dict(cur.fetchone()) == body["keys"]

    # The owner's own browser may refresh its keys.
    refreshed = app_server.request(
        "POST", "api/push-subscriptions", headers=owner.headers, json={**body, "keys": other_keys}
    )
    assert refreshed.json()["subscription_id"] == subscription_id, refreshed.text

    moved = app_server.request(
        "POST",
        "api/push-subscriptions",
        headers=next_user.headers,
        json={**body, "keys": other_keys},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["subscription_id"] == subscription_id
    assert subscriptions_of(database_url, owner) == []
    assert len(subscriptions_of(database_url, next_user)) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": "http://push.example.test/x"}, "endpoint"),
        ({"endpoint": "https://" + "a" * 2000}, "endpoint"),
        # Only allowed push services (the served app lists push.example.test and 127.0.0.1):
        # the backend POSTs to the endpoint, so internal addresses are refused.
        ({"endpoint": "https://169.254.169.254/latest/meta-data/"}, "endpoint"),
        ({"endpoint": "https://10.0.0.1/push/x"}, "endpoint"),
        ({"endpoint": "https://[::1]:8443/push/x"}, "endpoint"),
        ({"endpoint": "https://localhost:7071/api/admin"}, "endpoint"),
        ({"endpoint": "https://push.example.test@10.0.0.1/push/x"}, "endpoint"),
        ({"endpoint": "https://push.example.test.evil.example/push/x"}, "endpoint"),
        ({"endpoint": "https://fcm.googleapis.com/fcm/send/x"}, "endpoint"),
        ({"keys": {"p256dh": "short", "auth": "c2VjcmV0LWF1dGg"}}, "p256dh"),
        ({"keys": {"p256dh": "B" + "A" * 86}}, "auth"),
        ({"keys": {"p256dh": "B" + "A" * 86, "auth": "not base64!"}}, "auth"),
    ],
)
def test_bad_subscriptions_are_422_and_change_nothing(app_server, database_url, change, field):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
    response = app_server.request(
        "POST", "api/push-subscriptions", headers=guardian.headers, json={**SUBSCRIPTION, **change}
    )
    problem = assert_problem(response, 422, "validation_error")
    assert any(field in [str(part) for part in e["loc"]] for e in problem["errors"]), problem
    assert subscriptions_of(database_url, guardian) == []


def test_the_web_push_key_is_the_public_half_of_the_vault_key(start_app_server, database_url):
    private, public = new_vapid_key()
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
    server = start_app_server(WEB_PUSH_VAPID_PRIVATE_KEY=private)
    response = server.get("api/notifications/web-push-key", headers=guardian.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"enabled": True, "public_key": public}
    assert private not in server.logs()


def test_without_a_vapid_key_web_push_is_not_enabled(app_server, database_url):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
    response = app_server.get("api/notifications/web-push-key", headers=guardian.headers)
    assert response.status_code == 200
    assert response.json() == {"enabled": False, "public_key": None}


def test_the_vapid_key_is_read_from_key_vault(
    start_app_server, key_vault_env, fake_key_vault, database_url
):
    private, public = new_vapid_key()
    fake_key_vault.set_secret("VapidPrivateKey", private)
    server = start_app_server(**key_vault_env)
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
    response = server.get("api/notifications/web-push-key", headers=guardian.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"enabled": True, "public_key": public}
