"""The pure parts of the job mechanism (shared/jobs): message format, who asked, where the queue
service is, the heartbeat."""

from __future__ import annotations

import threading
import time

import pytest

from models.vocabularies import Role
from shared.audit import SystemActor
from shared.auth.principal import Actor, Principal
from shared.config import reset_settings
from shared.jobs import actors, queue
from shared.jobs.lease import Heartbeat, worker_name


def test_a_message_carries_the_job_id_and_nothing_else() -> None:
    text = queue.encode("full-20301231T180000Z-abc123")
    assert text == '{"job_id":"full-20301231T180000Z-abc123"}'
    assert queue.decode(text.encode()) == "full-20301231T180000Z-abc123"
    assert queue.decode(text) == "full-20301231T180000Z-abc123"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"id": "x"}',
        b'{"job_id": 7}',
        b'{"job_id": ""}',
        ('{"job_id": "' + "x" * 201 + '"}').encode(),
    ],
)
def test_a_message_that_names_no_job_is_refused(body: bytes) -> None:
    with pytest.raises(queue.InvalidJobMessage):
        queue.decode(body)


def test_the_poison_queue_is_the_queue_with_its_suffix() -> None:
    assert queue.poison_queue_name("backup-jobs") == "backup-jobs-poison"


def test_who_asked_round_trips_without_name_or_email() -> None:
    principal = Principal(42, Role.ADMIN, "admin@example.com", "관리자")
    admin = Actor(principal, request_id="req-1", client_ip="203.0.113.7")

    stored = actors.to_json(admin)

    assert stored == {
        "user_id": 42,
        "role": "admin",
        "request_id": "req-1",
        "client_ip": "203.0.113.7",
    }
    back = actors.from_json(stored)
    assert isinstance(back, Actor)
    assert (back.user_id, back.role, back.request_id, back.client_ip) == (
        42,
        Role.ADMIN,
        "req-1",
        "203.0.113.7",
    )
    timer = actors.from_json(actors.to_json(SystemActor.timer("nightly_backup")))
    assert timer == SystemActor.timer("nightly_backup")
    assert actors.from_json(None) is None


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, None),
        (
            {"STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net/"},
            "https://acct.queue.core.windows.net/",
        ),
        (
            {
                "STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net/",
                "STORAGE_QUEUE_URL": "https://queues.example.net/",
            },
            "https://queues.example.net/",
        ),
    ],
)
def test_the_queue_service_is_the_blob_accounts_unless_named(
    monkeypatch, settings: dict[str, str], expected: str | None
) -> None:
    for name in ("STORAGE_ACCOUNT_URL", "STORAGE_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    assert queue.queue_service_url() == expected


@pytest.mark.parametrize("name", ["Backup_Jobs", "ab", "a--b", "-ab", "ab-", "x" * 57])
def test_a_queue_name_azure_would_refuse_is_refused_at_start(monkeypatch, name: str) -> None:
    from shared.config import get_settings
    from shared.errors import ConfigurationError

    monkeypatch.setenv("BACKUP_QUEUE", name)
    reset_settings()
    with pytest.raises(ConfigurationError, match="BACKUP_QUEUE"):
        get_settings()


def test_the_heartbeat_renews_until_the_block_ends_or_the_lease_is_lost() -> None:
    renewed = threading.Event()
    calls: list[float] = []

    def renew() -> bool:
        calls.append(time.monotonic())
        renewed.set()
        return True

    with Heartbeat(renew, lease_seconds=1.5, name="job-1") as beat:
        assert renewed.wait(5)
        time.sleep(1.2)
    count = len(calls)
    time.sleep(1.0)
    assert len(calls) == count >= 2  # stopped with the block
    assert not beat.lost

    with Heartbeat(lambda: False, lease_seconds=1.5, name="job-2") as lost:
        time.sleep(1.2)
    assert lost.lost


def test_a_heartbeat_that_fails_keeps_beating() -> None:
    attempts: list[int] = []

    def flaky() -> bool:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("database restarting")
        return True

    with Heartbeat(flaky, lease_seconds=1.5, name="job-3") as beat:
        time.sleep(1.4)
    assert len(attempts) >= 2
    assert beat.beats >= 1
    assert not beat.lost


def test_a_worker_is_named_by_its_instance_and_process(monkeypatch) -> None:
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "0123456789abcdef0123")
    assert worker_name().startswith("0123456789ab:")
    assert worker_name().rsplit(":", 1)[1].isdigit()
