"""The Web Push host rule (shared.notifications.push_hosts, WEB_PUSH_ALLOWED_HOSTS): only
known push services, never an internal address however the URL is dressed up."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.notifications.push_hosts import endpoint_host, refusal

DEFAULTS = Settings().web_push_allowed_hosts


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://FCM.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
        "https://web.push.apple.com/QGuQyavXutnMH",
        "https://fcm.googleapis.com:443/fcm/send/abc",
    ],
)
def test_the_known_push_services_are_allowed_by_default(endpoint):
    assert refusal(endpoint, DEFAULTS) is None


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/push/x",
        "https://127.0.0.1:7071/api/x",
        "https://[::1]/push/x",
        "https://[fd00::1]:8443/push/x",
        "https://[::ffff:10.0.0.1]/push/x",
        "https://localhost/push/x",
        "https://localhost:7071/push/x",
        "https://api.localhost/push/x",
        "https://metadata.internal/push/x",
        # userinfo and suffix tricks
        "https://fcm.googleapis.com@10.0.0.1/push/x",
        "https://fcm.googleapis.com:443@10.0.0.1/push/x",
        "https://fcm.googleapis.com.evil.example/push/x",
        "https://evilfcm.googleapis.com.example/push/x",
        "https://notfcm.googleapis.com/push/x",
        "https://push.apple.com.evil.example/x",
        "https://evil-push.apple.com/x",
        # parser-confusion shapes: backslashes, escapes, no path, not https
        "https://10.0.0.1\\@fcm.googleapis.com/x",
        "https://fcm.googleapis.com\\@10.0.0.1/x",
        "https://fcm.googleapis.com%2e10.0.0.1/x",
        "https://fcm.googleapis.com",
        "http://fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com:99999999/x",
    ],
)
def test_internal_addresses_and_url_tricks_are_refused_by_default(endpoint):
    reason = refusal(endpoint, DEFAULTS)
    assert reason is not None
    assert "/push/" not in reason  # the path (the browser's capability) is never echoed


def test_an_entry_is_the_host_and_its_subdomains_on_a_label_boundary():
    allowed = ["push.example.test"]
    assert refusal("https://push.example.test/x", allowed) is None
    assert refusal("https://eu.push.example.test/x", allowed) is None
    assert refusal("https://evilpush.example.test/x", allowed) is not None
    assert refusal("https://example.test/x", allowed) is not None
    # `*.` and a leading dot mean the same; case and a trailing dot do not matter
    for entry in ("*.Push.Example.Test", ".push.example.test.", " push.example.test "):
        assert refusal("https://eu.push.example.test/x", [entry]) is None


def test_ip_literals_and_localhost_only_when_listed_exactly():
    assert refusal("https://127.0.0.1:4443/push/t", ["127.0.0.1"]) is None
    assert refusal("https://127.0.0.2/push/t", ["127.0.0.1"]) is not None
    assert refusal("https://10.0.0.1/push/t", ["0.0.1"]) is not None  # no suffix match on IPs
    assert refusal("https://[::1]/push/t", ["::1"]) is None
    assert refusal("https://[::1]/push/t", ["127.0.0.1"]) is not None
    assert refusal("https://localhost/push/t", ["localhost"]) is None
    assert refusal("https://a.localhost/push/t", ["localhost"]) is not None
    assert refusal("https://localhost/push/t", ["fcm.googleapis.com"]) is not None


def test_the_host_read_is_the_host_requests_would_reach():
    from urllib.parse import urlsplit

    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/a",
        "https://web.push.apple.com:443/x",
        "https://[::1]:8443/x",
    ):
        assert endpoint_host(endpoint) == urlsplit(endpoint).hostname
    assert endpoint_host("https://a@b/x") is None


def test_the_setting_is_a_comma_list_and_never_empty():
    settings = Settings(WEB_PUSH_ALLOWED_HOSTS="push.example.test, 127.0.0.1")
    assert settings.web_push_allowed_hosts == ["push.example.test", "127.0.0.1"]
    with pytest.raises(ValueError, match=r"web_push_allowed_hosts|WEB_PUSH_ALLOWED_HOSTS"):
        Settings(WEB_PUSH_ALLOWED_HOSTS=" , ")
