"""The cap notifications' words: Korean, the amounts in the app only; at 100 % who pays."""

from __future__ import annotations

from models.vocabularies import NotificationEvent
from shared.notifications.messages import Audience, render
from shared.notifications.outbox import DEFAULT_CHANNELS

DATA = {"month": "2026-11", "used": 1_250_000, "cap": 1_528_200, "threshold_percent": 80}


def test_eighty_percent_shows_the_amounts_in_the_app_and_only_the_share_outside():
    inside = render(NotificationEvent.BENEFIT_CAP_80, DATA, "김영희", Audience.INBOX)
    assert inside.title == "[늘봄케어] 월 한도액 80% 사용"
    assert inside.body == (
        "김영희 님의 2026-11 장기요양 급여 이용액이 월 한도액의 80%에 이르렀습니다"
        "\n이용액 1,250,000원 / 한도액 1,528,200원"
    )
    outside = render(NotificationEvent.BENEFIT_CAP_80, DATA, "김영희", Audience.OUTSIDE)
    assert outside.body == "김OO 님의 2026-11 장기요양 급여 이용액이 월 한도액의 80%에 이르렀습니다"


def test_a_hundred_percent_says_the_family_pays_what_passes_the_cap():
    outside = render(NotificationEvent.BENEFIT_CAP_100, DATA, "김영희", Audience.OUTSIDE)
    assert outside.title == "[늘봄케어] 월 한도액 100% 사용"
    assert outside.body.endswith("한도액을 넘는 금액은 전액 본인 부담입니다.")
    assert "1,528,200" not in outside.body


def test_the_cap_events_have_default_channels():
    assert DEFAULT_CHANNELS[NotificationEvent.BENEFIT_CAP_80] == ["in_app", "web_push"]
    assert DEFAULT_CHANNELS[NotificationEvent.BENEFIT_CAP_100] == ["in_app", "web_push", "email"]
