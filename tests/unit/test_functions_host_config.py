"""host.json as the local Functions host reads it, and the app-setting overrides of its values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.functions_host.host_config import (
    DEFAULT_FUNCTION_TIMEOUT,
    HostConfigError,
    QueueOptions,
    load_host_config,
    parse_timespan,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def host_json(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "host.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_projects_host_json() -> None:
    config = load_host_config(REPO_ROOT / "host.json", environ={})
    assert config.route_prefix == ""
    assert config.function_timeout == 30 * 60
    assert config.queues == QueueOptions(
        batch_size=1,
        new_batch_threshold=0,
        max_dequeue_count=5,
        visibility_timeout=30.0,
        max_polling_interval=10.0,
        message_encoding="base64",
    )


def test_the_real_hosts_defaults_apply_to_what_host_json_leaves_out(tmp_path: Path) -> None:
    config = load_host_config(host_json(tmp_path, {"version": "2.0"}), environ={})
    assert config.route_prefix == "api"
    assert config.function_timeout == DEFAULT_FUNCTION_TIMEOUT
    assert config.queues == QueueOptions()
    assert config.queues.new_batch_threshold == 8  # batchSize / 2
    assert config.queues.max_in_flight == 24
    custom = load_host_config(
        host_json(tmp_path, {"extensions": {"queues": {"batchSize": 4}}}), environ={}
    )
    assert custom.queues.new_batch_threshold == 2


def test_app_settings_override_host_json_case_insensitively(tmp_path: Path) -> None:
    path = host_json(
        tmp_path,
        {
            "functionTimeout": "00:10:00",
            "extensions": {"http": {"routePrefix": "api"}, "queues": {"batchSize": 16}},
        },
    )
    config = load_host_config(
        path,
        environ={
            "AzureFunctionsJobHost__functionTimeout": "00:00:02.5",
            "AzureFunctionsJobHost__extensions__http__routePrefix": "v1",
            "AZUREFUNCTIONSJOBHOST__EXTENSIONS__QUEUES__BATCHSIZE": "3",
            "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
            "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.2",
            "AzureFunctionsJobHost__extensions__queues__messageEncoding": "none",
            "UNRELATED": "x",
        },
    )
    assert config.function_timeout == 2.5
    assert config.route_prefix == "v1"
    assert config.queues.batch_size == 3
    assert config.queues.visibility_timeout == 1.0
    assert config.queues.max_polling_interval == 0.2
    assert config.queues.message_encoding == "none"


@pytest.mark.parametrize("value", [None, "-1"])
def test_no_function_timeout(tmp_path: Path, value: str | None) -> None:
    config = load_host_config(host_json(tmp_path, {"functionTimeout": value}), environ={})
    assert config.function_timeout is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:05:00", 300), ("1.02:00:00", 93_600), ("00:00:00.5", 0.5), ("00:01", 60)],
)
def test_timespans(text: str, seconds: float) -> None:
    assert parse_timespan(text, "x") == seconds


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"functionTimeout": "5 minutes"}, "functionTimeout must be a TimeSpan"),
        ({"functionTimeout": "00:61:00"}, "out of range"),
        ({"functionTimeout": "00:00:00"}, "must be positive"),
        ({"extensions": {"queues": {"batchSize": 33}}}, "batchSize must be within 1 and 32"),
        ({"extensions": {"queues": {"batchSize": "many"}}}, "batchSize must be a whole number"),
        ({"extensions": {"queues": {"maxDequeueCount": 0}}}, "maxDequeueCount must be within"),
        (
            {"extensions": {"queues": {"maxPollingInterval": "00:00:00.05"}}},
            "at least 00:00:00.1",
        ),
        ({"extensions": {"queues": {"maxPollingInterval": 2000}}}, "must be a TimeSpan"),
        ({"extensions": {"queues": {"messageEncoding": "utf8"}}}, "'base64' or 'none'"),
    ],
)
def test_bad_values_fail_the_start_naming_them(
    tmp_path: Path, document: dict, message: str
) -> None:
    with pytest.raises(HostConfigError, match=message):
        load_host_config(host_json(tmp_path, document), environ={})


def test_broken_host_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(HostConfigError, match=r"host\.json is not valid JSON"):
        load_host_config(path, environ={})
