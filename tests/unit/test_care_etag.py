"""ETags and If-None-Match (RFC 9110): pure logic, no HTTP."""

from __future__ import annotations

import re

import pytest

from models.care import ScheduleDay
from shared.care.etag import canonical_json, if_none_match_hits, strong_etag

TAG = '"abc123"'


def test_the_tag_is_the_quoted_sha256_of_sorted_compact_json():
    assert canonical_json({"b": 1, "a": [1, "한"]}) == '{"a":[1,"한"],"b":1}'.encode()
    assert strong_etag({"b": 1, "a": 2}) == strong_etag({"a": 2, "b": 1})
    assert strong_etag({"a": 1}) != strong_etag({"a": 2})
    tag = strong_etag({"a": 1})
    assert re.fullmatch(r'"[0-9a-f]{64}"', tag)


def test_a_model_and_its_dump_have_the_same_tag():
    day = ScheduleDay.model_validate({"date": "2026-03-02", "items": []})
    assert strong_etag(day) == strong_etag({"date": "2026-03-02", "items": []})


@pytest.mark.parametrize(
    "header",
    [
        '"abc123"',
        'W/"abc123"',
        '"x", "abc123"',
        '"x",W/"abc123"',
        ' , "x" ,, "abc123" ',
        "*",
        "  *  ",
    ],
)
def test_hits(header):
    assert if_none_match_hits(header, TAG)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        '"abc12"',
        '"ABC123"',  # opaque tags compare exactly
        "abc123",  # unquoted: malformed
        '"x" "abc123"',  # missing comma: malformed
        'w/"abc123"',  # the weak prefix is case-sensitive
        '"abc123',
        '*, "abc123"',  # `*` only on its own
    ],
)
def test_misses(header):
    assert not if_none_match_hits(header, TAG)


def test_a_weak_current_tag_compares_weakly_too():
    assert if_none_match_hits('"abc123"', 'W/"abc123"')
