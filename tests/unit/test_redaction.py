"""Log redaction: registered secrets, token- and password-shaped text, sensitive keys."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from shared.observability import (
    REDACTED,
    get_logger,
    json_formatter,
    redact_processor,
    redact_text,
    register_secret,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJ1c2VyLTEyMyIsInJvbGUiOiJndWFyZGlhbiJ9"
    ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
)


# -- free text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc123.def-456_ghi", "abc123.def-456_ghi"),
        ("header was bearer dGhpcyBpcyBhIHRva2Vu==", "dGhpcyBpcyBhIHRva2Vu"),
        (f"token {JWT} rejected", JWT),
        (f"cookie=session; jwt:{JWT}", "eyJzdWIiOiJ1c2VyLTEyMyIsInJvbGUiOiJndWFyZGlhbiJ9"),
    ],
)
def test_tokens_are_masked(text: str, secret: str):
    redacted = redact_text(text)

    assert secret not in redacted
    assert REDACTED in redacted


def test_bearer_keeps_the_scheme_so_the_line_stays_readable():
    assert redact_text("Authorization: Bearer abc.def") == f"Authorization: Bearer {REDACTED}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "host=db.example port=5432 user=app password=hunter22 dbname=neulbom",
            f"host=db.example port=5432 user=app password={REDACTED} dbname=neulbom",
        ),
        (
            "Server=tcp:db;User Id=app;Password=S3cr3t!;Encrypt=true",
            f"Server=tcp:db;User Id=app;Password={REDACTED};Encrypt=true",
        ),
        (
            "DefaultEndpointsProtocol=https;AccountName=neulbom;"
            "AccountKey=Zm9vYmFyYmF6cXV4+/==;EndpointSuffix=core.windows.net",
            "DefaultEndpointsProtocol=https;AccountName=neulbom;"
            f"AccountKey={REDACTED};EndpointSuffix=core.windows.net",
        ),
        (
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
            "SharedAccessKey=c2VjcmV0a2V5MTIz=",
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
            f"SharedAccessKey={REDACTED}",
        ),
        (
            "GET /backups/x.sql?sv=2024-11-04&se=2026-01-01&sig=abc%2Fdef%3D&sp=r",
            f"GET /backups/x.sql?sv=2024-11-04&se=2026-01-01&sig={REDACTED}&sp=r",
        ),
        ("retry with api_key=sk-live-123456", f"retry with api_key={REDACTED}"),
        ("client_secret=abc123 grant", f"client_secret={REDACTED} grant"),
        ("?access_token=xyz789&state=1", f"?access_token={REDACTED}&state=1"),
        ("pwd=letmein", f"pwd={REDACTED}"),
    ],
)
def test_password_and_key_assignments_are_masked(text: str, expected: str):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://app:hunter22@db.example:5432/neulbom",
            f"postgresql://app:{REDACTED}@db.example:5432/neulbom",
        ),
        (
            "could not connect to postgres://neulbom_admin:p%40ss%2Fw0rd@10.0.0.4/neulbom",
            f"could not connect to postgres://neulbom_admin:{REDACTED}@10.0.0.4/neulbom",
        ),
        ("amqps://user:pw@host", f"amqps://user:{REDACTED}@host"),
    ],
)
def test_url_credentials_are_masked(text: str, expected: str):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Matched 12 caregivers for patient 3f1c2a9e-8b7d-4c6e-9a01-2b3c4d5e6f70 in 0.42 s",
        "요양보호사 김영희 배정 완료 (서울 강남구, 장기요양 3등급)",
        "GET /api/v1/caregivers?region=seoul&page=2 -> 200",
        "postgresql://app@db.example:5432/neulbom",  # a URL without a password
        "see https://neulbomcare.example:8443/docs for details",
        "monkey=3 token_count=17 keyboard=qwerty",
        "user=app dbname=neulbom sslmode=require",
        "eyJ alone is not a token",
        "",
    ],
)
def test_ordinary_text_is_untouched(text: str):
    assert redact_text(text) == text


# -- registered secrets --------------------------------------------------------------------------


def test_registered_secret_is_masked_wherever_it_appears():
    secret = f"plain-{uuid.uuid4().hex}"
    text = f"value={secret}, again:{secret}!"
    assert redact_text(text) == text

    register_secret(secret)

    assert redact_text(text) == f"value={REDACTED}, again:{REDACTED}!"


def test_longer_secret_is_masked_before_a_shorter_one_it_contains():
    short = f"s{uuid.uuid4().hex[:10]}"
    long = f"{short}-and-more"
    register_secret(short)
    register_secret(long)

    assert redact_text(f"<{long}>") == f"<{REDACTED}>"


@pytest.mark.parametrize("value", [None, "", "abc", "12345"])
def test_values_too_short_to_mask_safely_are_not_registered(value: str | None):
    register_secret(value)

    # Masking "abc" everywhere would wreck ordinary lines.
    assert redact_text("abc 12345 abcdef") == "abc 12345 abcdef"


# -- structured fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "Authorization",
        "api_key",
        "api-key",
        "apiKey",
        "client_secret",
        "refresh_token",
        "cookie",
    ],
)
def test_sensitive_keys_are_masked_whatever_the_value(key: str):
    event = redact_processor(None, "info", {"event": "login", key: "opaque"})

    assert event[key] == REDACTED
    assert event["event"] == "login"


def test_nested_dicts_and_lists_are_masked():
    event = redact_processor(
        None,
        "info",
        {
            "event": "outgoing_request",
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "application/json"},
            "body": {"user": {"email": "a@example.com", "password": "pw-123456"}},
            "tokens": ["t1", "t2"],
            "urls": ["postgresql://u:pw@h/db", "https://example.com"],
            "attempt": 2,
        },
    )

    assert event["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert event["body"] == {"user": {"email": "a@example.com", "password": REDACTED}}
    assert event["tokens"] == [REDACTED, REDACTED]
    assert event["urls"] == [f"postgresql://u:{REDACTED}@h/db", "https://example.com"]
    assert event["attempt"] == 2


def test_ordinary_fields_keep_their_values():
    fields = {"event": "matched", "region": "seoul", "count": 12, "ok": True, "note": None}

    assert redact_processor(None, "info", dict(fields)) == fields


def test_empty_sensitive_value_is_left_empty():
    assert redact_processor(None, "info", {"password": ""})["password"] == ""


# -- end to end through the JSON formatter -------------------------------------------------------


@pytest.fixture
def captured_json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("neulbomcare.test_redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def test_log_lines_leave_the_process_redacted(captured_json_logs: io.StringIO):
    secret = f"registered-{uuid.uuid4().hex}"
    register_secret(secret)
    log = get_logger("test_redaction")

    log.info(
        f"connecting with {secret}",
        dsn="postgresql://app:hunter22@db/neulbom",
        authorization=f"Bearer {JWT}",
    )
    logging.getLogger("neulbomcare.test_redaction").warning("plain record password=hunter22")

    output = captured_json_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 2
    assert secret not in output
    assert "hunter22" not in output
    assert JWT not in output
    assert lines[0]["event"] == f"connecting with {REDACTED}"
    assert lines[0]["authorization"] == REDACTED
    assert lines[1]["event"] == f"plain record password={REDACTED}"


def test_exception_text_is_redacted(captured_json_logs: io.StringIO):
    log = get_logger("test_redaction")
    try:
        raise RuntimeError("auth failed for postgresql://app:hunter22@db/neulbom")
    except RuntimeError:
        log.exception("db_failed")

    output = captured_json_logs.getvalue()
    assert "hunter22" not in output
    assert "RuntimeError" in json.loads(output.splitlines()[0])["exception"]


def test_prose_about_a_bearer_is_left_alone():
    assert redact_text("the bearer of this card") == "the bearer of this card"


def test_credentials_at_the_end_of_a_long_unbroken_line_are_masked():
    line = "ab-" * 20_000 + "://user:pw@host"
    redacted = redact_text(line)
    assert ":pw@" not in redacted
    assert redacted.endswith(f"://user:{REDACTED}@host")
