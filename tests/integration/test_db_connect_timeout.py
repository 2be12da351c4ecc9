"""A `connect_timeout` written in DATABASE_URL is what the app waits; DB_CONNECT_TIMEOUT only
fills in when the URL gives none (the operations guide puts production's 10 s in the URL)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from shared.db import get_database
from shared.errors import ServiceUnavailableError

pytestmark = pytest.mark.integration


@contextmanager
def silent_server() -> Iterator[int]:
    """A port whose kernel completes the TCP handshake but whose server never says a word, so
    the client waits exactly its connect_timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def seconds_to_give_up(monkeypatch: pytest.MonkeyPatch, url: str, setting: int) -> float:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", str(setting))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError):
        get_database().ping()
    return time.monotonic() - started


def test_the_urls_connect_timeout_is_not_overridden_by_the_setting(monkeypatch):
    with silent_server() as port:
        waited = seconds_to_give_up(
            monkeypatch, f"postgresql://app@127.0.0.1:{port}/db?connect_timeout=2", setting=30
        )
    assert 1.5 <= waited < 10


def test_without_one_in_the_url_the_setting_applies(monkeypatch):
    with silent_server() as port:
        waited = seconds_to_give_up(monkeypatch, f"postgresql://app@127.0.0.1:{port}/db", setting=2)
    assert 1.5 <= waited < 10
