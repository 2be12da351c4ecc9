"""The outbox sender against real PostgreSQL and the HTTPS fakes of a push service and ACS Email:
every channel delivers, an outage loses nothing (retried with backoff, delivered when it is
back), two senders never send a row twice, quiet hours defer and incidents do not, a gone push
subscription is deleted, a recipient without an address is skipped."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from models.vocabularies import NotificationEvent
from shared.notifications.outbox import Notice, publish
from shared.notifications.sender import deliver_due
from shared.unit_of_work import UnitOfWork
from tests.factories import TestUser, cursor, make_guardian, make_patient

pytestmark = pytest.mark.integration

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def env(app_env, notifications_env, monkeypatch) -> Iterator[dict[str, str]]:
    from shared.notifications.channels import email

    for name, value in notifications_env.items():
        monkeypatch.setenv(name, value)
    email.reset_client()
    yield {**app_env, **notifications_env}
    email.reset_client()


def family(database_url: str, *, quiet: tuple[str, str] | None = ("00:00", "00:00")) -> Any:
    """A guardian and patient; quiet hours none by default (a test may run at any hour)."""
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian, name="김영희")
        if quiet is not None:
            cur.execute(
                """
                INSERT INTO notification_preferences (user_id, quiet_start, quiet_end, time_zone)
                VALUES (%s, %s, %s, 'Asia/Seoul')
                """,
                (guardian.user_id, *quiet),
            )
    return guardian, patient_id


def subscribe(database_url: str, user: TestUser, subscription: dict[str, Any]) -> int:
    with cursor(database_url) as cur:
        cur.execute(
            """
            INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth)
            VALUES (%s, %s, %s, %s) RETURNING subscription_id
            """,
            (
                user.user_id,
                subscription["endpoint"],
                subscription["keys"]["p256dh"],
                subscription["keys"]["auth"],
            ),
        )
        return int(cur.fetchone()["subscription_id"])


def notify(patient_id: int, event: NotificationEvent, key: str, **data: Any) -> int:
    urgent = event is NotificationEvent.INCIDENT
    with UnitOfWork.for_job() as uow:
        return publish(uow, Notice(event, key=key, patient_id=patient_id, data=data, urgent=urgent))


def outbox(database_url: str, user: TestUser) -> dict[str, dict[str, Any]]:
    """The user's outbox rows by "event/channel"."""
    with cursor(database_url) as cur:
        cur.execute(
            """
            SELECT event_type, channel, status, attempts, next_attempt_at, last_error, sent_at,
                   now() AS now
            FROM notification_outbox WHERE recipient_user_id = %s
            """,
            (user.user_id,),
        )
        return {f"{r['event_type']}/{r['channel']}": dict(r) for r in cur.fetchall()}


def inbox(database_url: str, user: TestUser) -> list[dict[str, Any]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT * FROM notifications WHERE user_id = %s ORDER BY notification_id",
            (user.user_id,),
        )
        return list(cur.fetchall())


def make_due(database_url: str, user: TestUser) -> None:
    """Skip the backoff wait: the user's pending rows are due now."""
    with cursor(database_url) as cur:
        cur.execute(
            """
            UPDATE notification_outbox SET next_attempt_at = now()
            WHERE recipient_user_id = %s AND status = 'pending'
            """,
            (user.user_id,),
        )


CHECK_OUT = {
    "visit_id": 7,
    "caregiver_name": "박보호",
    "check_in_at": "2026-12-04T09:02:00+09:00",
    "check_out_at": "2026-12-04T11:05:00+09:00",
    "minutes": 123,
    "summary": "식사 보조 후 산책",
}


def test_every_channel_delivers_once(env, database_url, fake_web_push, fake_acs_email):
    guardian, patient_id = family(database_url)
    subscription = fake_web_push.subscription()
    subscribe(database_url, guardian, subscription)
    # Check-out goes in-app and by push by default; ask for email too.
    with cursor(database_url) as cur:
        cur.execute(
            """UPDATE notification_preferences
               SET channels = '{"visit_check_out": ["in_app", "web_push", "email"]}'
               WHERE user_id = %s""",
            (guardian.user_id,),
        )

    assert (
        notify(patient_id, NotificationEvent.VISIT_CHECK_OUT, "visit:7:check_out", **CHECK_OUT) == 3
    )
    report = deliver_due(budget_seconds=20)

    rows = outbox(database_url, guardian)
    assert {key: row["status"] for key, row in rows.items()} == {
        "visit_check_out/in_app": "sent",
        "visit_check_out/web_push": "sent",
        "visit_check_out/email": "sent",
    }
    assert all(row["sent_at"] is not None and row["attempts"] == 1 for row in rows.values())
    assert report.sent >= 3

    # In-app: the full name and the caregiver's summary (read signed in).
    (entry,) = inbox(database_url, guardian)
    assert entry["title"] == "[늘봄케어] 방문 종료"
    assert entry["body"].startswith("김영희 님 방문이 끝났습니다 (11:05), 123분")
    assert "식사 보조 후 산책" in entry["body"]
    assert entry["data"] == {"visit_id": 7}
    assert entry["patient_id"] == patient_id

    # Push: VAPID checked by the fake, the payload decrypted; masked name, no free text.
    (push,) = fake_web_push.pushes_to(subscription["endpoint"])
    assert push.payload["title"] == "[늘봄케어] 방문 종료"
    assert push.payload["body"] == "김OO 님 방문이 끝났습니다 (11:05), 123분"
    assert push.payload["event"] == "visit_check_out"
    assert push.claims["sub"] == "mailto:ops@neulbomcare.test"
    assert push.ttl > 0
    assert fake_web_push.refused == []

    # Email: HMAC checked by the fake; masked name, no summary.
    (mail,) = [m for m in fake_acs_email.sent if m.to == [guardian.email]]
    assert mail.subject == "[늘봄케어] 방문 종료"
    assert "김OO" in mail.text
    assert "김영희" not in mail.text
    assert "식사" not in mail.text
    assert fake_acs_email.refused == []

    # A second sweep sends nothing more.
    deliver_due(budget_seconds=5)
    assert len(fake_web_push.pushes_to(subscription["endpoint"])) == 1
    assert len([m for m in fake_acs_email.sent if m.to == [guardian.email]]) == 1
    assert len(inbox(database_url, guardian)) == 1


def test_a_channel_down_loses_nothing_retries_with_backoff_and_delivers_when_back(
    env, database_url, fake_web_push, fake_acs_email, monkeypatch
):
    monkeypatch.setenv("NOTIFY_RETRY_BASE_SECONDS", "60")
    from shared.config import reset_settings

    reset_settings()
    guardian, patient_id = family(database_url)
    subscription = fake_web_push.subscription()
    subscribe(database_url, guardian, subscription)
    fake_acs_email.down()
    fake_web_push.fail_always(503)

    notify(patient_id, NotificationEvent.VISIT_MISSED, "visit:8:missed", visit_id=8,
           planned_start="2026-12-04T09:00:00+09:00")  # fmt: skip
    deliver_due(budget_seconds=20)

    rows = outbox(database_url, guardian)
    assert rows["visit_missed/in_app"]["status"] == "sent"  # the inbox never waits for a channel
    for channel in ("web_push", "email"):
        row = rows[f"visit_missed/{channel}"]
        assert row["status"] == "pending"
        assert row["attempts"] == 1
        assert row["sent_at"] is None
        assert row["last_error"]
        wait = (row["next_attempt_at"] - row["now"]).total_seconds()
        assert 50 < wait <= 61  # the first backoff: the base

    # Not due yet: another sweep leaves them alone.
    deliver_due(budget_seconds=5)
    assert outbox(database_url, guardian)["visit_missed/email"]["attempts"] == 1

    # Still down at the second attempt: the backoff doubles.
    make_due(database_url, guardian)
    deliver_due(budget_seconds=20)
    row = outbox(database_url, guardian)["visit_missed/email"]
    assert row["attempts"] == 2
    assert 110 < (row["next_attempt_at"] - row["now"]).total_seconds() <= 121

    # Back up: delivered, once.
    fake_acs_email.up()
    fake_web_push.recover()
    make_due(database_url, guardian)
    deliver_due(budget_seconds=20)
    rows = outbox(database_url, guardian)
    assert {key: row["status"] for key, row in rows.items()} == {
        "visit_missed/in_app": "sent",
        "visit_missed/web_push": "sent",
        "visit_missed/email": "sent",
    }
    assert rows["visit_missed/email"]["attempts"] == 3
    assert len([m for m in fake_acs_email.sent if m.to == [guardian.email]]) == 1
    assert len(fake_web_push.pushes_to(subscription["endpoint"])) == 1


def test_a_row_is_failed_after_the_last_attempt(env, database_url, fake_acs_email, monkeypatch):
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "2")
    from shared.config import reset_settings

    reset_settings()
    guardian, patient_id = family(database_url)
    fake_acs_email.down()
    notify(patient_id, NotificationEvent.VISIT_LATE, "visit:9:late", visit_id=9)
    deliver_due(budget_seconds=20)
    make_due(database_url, guardian)
    deliver_due(budget_seconds=20)

    row = outbox(database_url, guardian)["visit_late/email"]
    assert row["status"] == "failed"
    assert row["attempts"] == 2
    assert "503" in row["last_error"]


def test_two_senders_at_once_never_send_a_row_twice(
    env, database_url, fake_web_push, fake_acs_email
):
    families = [family(database_url) for _ in range(6)]
    endpoints = []
    for guardian, _ in families:
        subscription = fake_web_push.subscription()
        subscribe(database_url, guardian, subscription)
        endpoints.append(subscription["endpoint"])
    for _guardian, patient_id in families:
        for n in range(4):
            notify(patient_id, NotificationEvent.VISIT_LATE, f"visit:{patient_id}0{n}:late",
                   visit_id=n, planned_start="2026-12-04T09:00:00+09:00")  # fmt: skip

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            barrier.wait()
            deliver_due(budget_seconds=30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []

    for (guardian, _), endpoint in zip(families, endpoints, strict=True):
        with cursor(database_url) as cur:
            cur.execute(
                """SELECT status, attempts, count(*) AS n FROM notification_outbox
                   WHERE recipient_user_id = %s GROUP BY status, attempts""",
                (guardian.user_id,),
            )
            assert [dict(r) for r in cur.fetchall()] == [{"status": "sent", "attempts": 1, "n": 12}]
        assert len(fake_web_push.pushes_to(endpoint)) == 4
        assert len([m for m in fake_acs_email.sent if m.to == [guardian.email]]) == 4
        assert len(inbox(database_url, guardian)) == 4
    # Every operation reached ACS once: no send was repeated, not even with the same id.
    ours = {guardian.email for guardian, _ in families}
    assert len([m for m in fake_acs_email.sent if m.to[0] in ours]) == 24


def test_quiet_hours_defer_push_and_email_but_incidents_go_at_once(
    env, database_url, fake_web_push, fake_acs_email
):
    now = datetime.now(SEOUL)
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    guardian, patient_id = family(database_url, quiet=(start, end.strftime("%H:%M")))
    subscription = fake_web_push.subscription()
    subscribe(database_url, guardian, subscription)

    notify(patient_id, NotificationEvent.VISIT_LATE, "visit:10:late", visit_id=10,
           planned_start=now.isoformat())  # fmt: skip
    notify(patient_id, NotificationEvent.INCIDENT, "incident:10", incident_id=10,
           kind_label="낙상", severity_label="심각", occurred_at=now.isoformat(),
           actions_taken="119 신고")  # fmt: skip
    deliver_due(budget_seconds=20)

    rows = outbox(database_url, guardian)
    for channel in ("web_push", "email"):
        assert rows[f"incident/{channel}"]["status"] == "sent"
        late = rows[f"visit_late/{channel}"]
        assert late["status"] == "pending"
        assert late["attempts"] == 0  # deferred, not failed
        assert late["next_attempt_at"] == end.astimezone(UTC)
    assert rows["visit_late/in_app"]["status"] == "sent"
    assert rows["incident/in_app"]["status"] == "sent"

    (push,) = fake_web_push.pushes_to(subscription["endpoint"])
    assert push.payload["event"] == "incident"
    assert push.payload["title"] == "[늘봄케어] 사고 발생: 낙상 (심각)"
    assert "119" not in push.payload["body"]  # actions are free text: in the app only
    assert push.urgency == "high"
    titles = [n["title"] for n in inbox(database_url, guardian)]
    assert sorted(titles) == ["[늘봄케어] 방문 지연", "[늘봄케어] 사고 발생: 낙상 (심각)"]


def test_a_gone_push_subscription_is_deleted_and_the_others_still_get_it(
    env, database_url, fake_web_push
):
    guardian, patient_id = family(database_url)
    old = fake_web_push.subscription()
    new = fake_web_push.subscription()
    old_id = subscribe(database_url, guardian, old)
    new_id = subscribe(database_url, guardian, new)
    fake_web_push.gone(old["endpoint"])

    notify(patient_id, NotificationEvent.VISIT_CHECK_IN, "visit:11:check_in", visit_id=11)
    report = deliver_due(budget_seconds=20)

    assert outbox(database_url, guardian)["visit_check_in/web_push"]["status"] == "sent"
    assert len(fake_web_push.pushes_to(new["endpoint"])) == 1
    assert report.gone_subscriptions >= 1
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT subscription_id FROM push_subscriptions WHERE user_id = %s",
            (guardian.user_id,),
        )
        assert [r["subscription_id"] for r in cur.fetchall()] == [new_id]
    assert old_id != new_id


def test_a_recipient_without_an_address_is_skipped(
    env, database_url, fake_web_push, fake_acs_email, monkeypatch
):
    monkeypatch.delenv("ACS_EMAIL_SENDER")  # email not configured here
    from shared.config import reset_settings

    reset_settings()
    guardian, patient_id = family(database_url)  # no push subscription
    notify(patient_id, NotificationEvent.VISIT_MISSED, "visit:12:missed", visit_id=12)
    deliver_due(budget_seconds=20)

    rows = outbox(database_url, guardian)
    assert rows["visit_missed/in_app"]["status"] == "sent"
    assert rows["visit_missed/web_push"]["status"] == "skipped"
    assert rows["visit_missed/web_push"]["last_error"] == "no push subscription"
    assert rows["visit_missed/email"]["status"] == "skipped"
    assert "not configured" in rows["visit_missed/email"]["last_error"]
    assert [m for m in fake_acs_email.sent if m.to == [guardian.email]] == []


def test_a_sender_that_died_mid_send_leaves_the_row_to_come_back(env, database_url, fake_acs_email):
    """A leased row whose sender never settled it is due again when the lease lapses."""
    guardian, patient_id = family(database_url)
    notify(patient_id, NotificationEvent.VISIT_MISSED, "visit:13:missed", visit_id=13)
    with cursor(database_url) as cur:  # what a claim leaves behind: attempt counted, hidden
        cur.execute(
            """
            UPDATE notification_outbox
            SET attempts = 1, next_attempt_at = now() - interval '1 second'
            WHERE recipient_user_id = %s AND channel = 'email'
            """,
            (guardian.user_id,),
        )
    deliver_due(budget_seconds=20)
    row = outbox(database_url, guardian)["visit_missed/email"]
    assert row["status"] == "sent"
    assert row["attempts"] == 2
    assert len([m for m in fake_acs_email.sent if m.to == [guardian.email]]) == 1


def wait_for(check, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    return check()


def test_the_served_app_delivers_on_a_queue_nudge_and_on_its_minute_sweep(
    start_app_server, notifications_env, database_url, fake_web_push, fake_acs_email, azurite
):
    """The functions as the host runs them: a message on NOTIFICATION_QUEUE, then the timer."""
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    queue = f"notify-{secrets.token_hex(4)}"
    served = start_app_server(**notifications_env, NOTIFICATION_QUEUE=queue)
    guardian, patient_id = family(database_url)
    subscription = fake_web_push.subscription()
    subscribe(database_url, guardian, subscription)

    with cursor(database_url) as cur:
        cur.execute(
            """INSERT INTO notification_outbox
                   (dedupe_key, event_type, patient_id, recipient_user_id, channel, payload)
               VALUES (%s, 'visit_missed', %s, %s, 'web_push', '{"visit_id": 14}')""",
            (f"served:{guardian.user_id}", patient_id, guardian.user_id),
        )
    client = QueueClient.from_connection_string(
        azurite.connection_string, queue, message_encode_policy=TextBase64EncodePolicy()
    )
    client.create_queue()
    client.send_message('{"job_id": "sweep"}')

    assert wait_for(lambda: fake_web_push.pushes_to(subscription["endpoint"]))
    assert wait_for(
        lambda: outbox(database_url, guardian)["visit_missed/web_push"]["status"] == "sent"
    )

    # The minute sweep, run now as the host would run it.
    with cursor(database_url) as cur:
        cur.execute(
            """INSERT INTO notification_outbox
                   (dedupe_key, event_type, patient_id, recipient_user_id, channel, payload)
               VALUES (%s, 'visit_late', %s, %s, 'email', '{"visit_id": 15}')""",
            (f"served-sweep:{guardian.user_id}", patient_id, guardian.user_id),
        )
    response = requests.post(served.url("admin/functions/notification_sweep"), json={}, timeout=5)
    assert response.status_code == 202
    assert wait_for(lambda: [m for m in fake_acs_email.sent if m.to == [guardian.email]])
    assert "김영희" not in served.logs()


def test_a_row_that_cannot_be_prepared_fails_alone(env, database_url, monkeypatch):
    """One unwritable row is failed with its reason; the rest of its batch is delivered."""
    from shared.notifications.messages import render as real_render

    def render(event, data, name, audience):
        if data.get("poison"):
            raise ValueError("a template this payload breaks")
        return real_render(event, data, name, audience)

    monkeypatch.setattr("shared.notifications.sender.render", render)
    guardian, patient_id = family(database_url)
    notify(patient_id, NotificationEvent.VISIT_CHECK_IN, "visit:16:check_in", poison=True)
    notify(patient_id, NotificationEvent.VISIT_CHECK_OUT, "visit:16:check_out", visit_id=16)
    deliver_due(budget_seconds=20)

    rows = outbox(database_url, guardian)
    assert rows["visit_check_in/in_app"]["status"] == "failed"
    assert "a template this payload breaks" in rows["visit_check_in/in_app"]["last_error"]
    assert rows["visit_check_in/web_push"]["status"] == "failed"
    assert rows["visit_check_out/in_app"]["status"] == "sent"
    assert [n["event_type"] for n in inbox(database_url, guardian)] == ["visit_check_out"]


def test_an_unreachable_push_service_is_retried_without_logging_the_endpoint(
    env, database_url, fake_web_push
):
    guardian, patient_id = family(database_url)
    subscription = fake_web_push.subscription()
    secret_path = "/push/a-capability-nobody-else-knows"
    subscription["endpoint"] = "https://127.0.0.1:9" + secret_path  # nothing listens there
    subscribe(database_url, guardian, subscription)
    notify(patient_id, NotificationEvent.VISIT_CHECK_IN, "visit:17:check_in", visit_id=17)
    deliver_due(budget_seconds=20)

    row = outbox(database_url, guardian)["visit_check_in/web_push"]
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert "127.0.0.1" in row["last_error"]
    assert secret_path not in row["last_error"]


def test_a_stored_endpoint_off_the_allowed_hosts_is_never_posted_to_and_is_deleted(
    env, database_url, fake_web_push
):
    """A subscription stored before the host rule (or before WEB_PUSH_ALLOWED_HOSTS changed):
    the fake listens on 127.0.0.1, the only allowed host; `localhost` names the same server
    but is not listed, so nothing reaches it and the row is skipped with the reason."""
    guardian, patient_id = family(database_url)
    subscription = fake_web_push.subscription()
    secret_path = subscription["endpoint"].split("/", 3)[3]
    subscription["endpoint"] = subscription["endpoint"].replace("127.0.0.1", "localhost")
    subscribe(database_url, guardian, subscription)

    notify(patient_id, NotificationEvent.VISIT_CHECK_IN, "visit:12:check_in", visit_id=12)
    report = deliver_due(budget_seconds=20)

    row = outbox(database_url, guardian)["visit_check_in/web_push"]
    assert row["status"] == "skipped", row
    assert "push endpoint host localhost" in row["last_error"]
    assert secret_path not in row["last_error"]
    assert fake_web_push.received == []
    assert report.gone_subscriptions >= 1
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM push_subscriptions WHERE user_id = %s", (guardian.user_id,)
        )
        assert cur.fetchone()["n"] == 0
