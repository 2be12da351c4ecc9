"""The words of notifications: Korean per event, full text in the app, masked and free-text-free
outside it (push, email); times in Korean local time."""

from __future__ import annotations

import pytest

from models.vocabularies import NotificationEvent
from shared.notifications.messages import (
    BODY_MAX,
    TITLE_MAX,
    Audience,
    clock,
    day,
    mask_name,
    render,
)

FREE_TEXT = "할머니가 화장실에서 미끄러짐"
DATA = {
    "visit_id": 1,
    "caregiver_name": "박보호",
    "planned_start": "2026-12-04T00:00:00+00:00",  # 09:00 in Seoul
    "check_in_at": "2026-12-04T00:02:00+00:00",
    "check_out_at": "2026-12-04T02:05:00+00:00",
    "minutes": 123,
    "summary": FREE_TEXT,
    "reason": FREE_TEXT,
    "kind_label": "낙상",
    "severity_label": "심각",
    "occurred_at": "2026-12-04T10:30:00+09:00",
    "actions_taken": FREE_TEXT,
    "reason_label": "체크인 누락",
}


def test_names_are_masked_to_the_first_syllable():
    assert mask_name("김영희") == "김OO"
    assert mask_name(" 남궁민수 ") == "남OO"
    assert mask_name("") == "어르신"
    assert mask_name(None) == "어르신"


def test_times_are_korean_local_time():
    assert clock("2026-12-04T00:02:00+00:00") == "09:02"
    assert clock("2026-12-04T23:30:00+00:00") == "08:30"
    assert day("2026-12-04T23:30:00+00:00") == "12월 5일"
    assert clock(None) == ""
    assert clock("not a time") == ""


def test_check_in_reads_as_the_issue_says():
    message = render(NotificationEvent.VISIT_CHECK_IN, DATA, "김영희", Audience.OUTSIDE)
    assert message.title == "[늘봄케어] 방문 시작"
    assert message.body == "김OO 님 방문이 시작되었습니다 (09:02)"
    inbox = render(NotificationEvent.VISIT_CHECK_IN, DATA, "김영희", Audience.INBOX)
    assert inbox.body == "김영희 님 방문이 시작되었습니다 (09:02)\n요양보호사: 박보호"


@pytest.mark.parametrize("event", list(NotificationEvent))
def test_every_event_has_korean_words_and_keeps_free_text_and_names_inside_the_app(event):
    outside = render(event, DATA, "김영희", Audience.OUTSIDE)
    inside = render(event, DATA, "김영희", Audience.INBOX)
    assert outside.title.startswith("[늘봄케어] ")
    assert event.label in outside.title or outside.title.startswith("[늘봄케어] 사고 발생")
    assert "김OO" in outside.body
    assert "김영희" not in outside.title + outside.body
    assert FREE_TEXT not in outside.body
    assert "박보호" not in outside.body
    assert "김영희" in inside.body


def test_free_text_is_in_the_inbox_for_the_events_that_carry_it():
    for event in (
        NotificationEvent.VISIT_CHECK_OUT,
        NotificationEvent.VISIT_CANCELLED,
        NotificationEvent.INCIDENT,
    ):
        assert FREE_TEXT in render(event, DATA, "김영희", Audience.INBOX).body


def test_missing_data_still_renders():
    for event in NotificationEvent:
        message = render(event, {}, None, Audience.OUTSIDE)
        assert message.title
        assert "어르신" in message.body


def test_incident_title_names_kind_and_severity():
    message = render(NotificationEvent.INCIDENT, DATA, "김영희", Audience.OUTSIDE)
    assert message.title == "[늘봄케어] 사고 발생: 낙상 (심각)"
    assert message.body.startswith("김OO 님에게 낙상이(가) 보고되었습니다 (10:30)")


def test_long_text_fits_the_inbox_columns():
    data = {**DATA, "summary": "가" * 5000, "kind_label": "나" * 500}
    for event in (NotificationEvent.VISIT_CHECK_OUT, NotificationEvent.INCIDENT):
        message = render(event, data, "김영희", Audience.INBOX)
        assert len(message.title) <= TITLE_MAX
        assert len(message.body) <= BODY_MAX
