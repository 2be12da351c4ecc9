"""The care report's AI summary: written from the figures only, checked (Korean, bounded, no drug
or dose text, no invented percentages), with the deterministic report text as the fallback."""

from __future__ import annotations

from datetime import date

import pytest

from shared.ai import report_summary
from shared.care import report_text
from shared.care.report_text import ReportFigures
from shared.db import get_database
from tests.factories import Parties, cursor

pytestmark = pytest.mark.integration

FIGURES = ReportFigures(
    report_type="weekly",
    start_date=date(2026, 6, 1),
    end_date=date(2026, 6, 7),
    medication_rate=66.67,
    meal_rate=90.0,
    overall_rate=80.0,
    by_category={"medication": 66.67, "meal": 90.0, "exercise": 75.0},
    vitals={"blood_sugar": {"min": 95.0, "avg": 150.5, "max": 210.0, "count": 6}},
)
GOOD = {
    "summary": "이번 주 전체 완료율은 80%입니다. 식사 완료율은 90%로 좋았고, 복약 완료율은 66.7%로"
    " 조금 낮았습니다. 혈당 평균은 150.5mg/dL이었습니다.",
    "suggestions": [
        "복약 시간에 알림을 맞추고 요양보호사와 확인 방법을 정해 보세요.",
        "혈당이 높은 날이 있었습니다. 꾸준히 재고 담당 의료진과 상담해 보세요.",
    ],
}


def test_a_good_summary_is_used(ai_settings, fake_openai):
    fake_openai.reply(content=GOOD)

    written = report_summary.write(FIGURES)

    assert written.text.source == "ai"
    assert written.text.summary == GOOD["summary"]
    assert written.text.suggestions == GOOD["suggestions"]
    (request,) = fake_openai.requests
    assert "복약 완료율: 66.67%" in request.prompt_text
    assert "혈당: 평균 150.5mg/dL, 최저 95, 최고 210, 6회 측정" in request.prompt_text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"summary": "이번 주 전체 완료율은 95%로 아주 좋았습니다. 계속 이렇게 해 주세요."},
         "percentages not among the report's rates (95%)"),
        ({"suggestions": ["혈당이 높으면 인슐린 용량을 늘려 보세요."]}, "names a medicine"),
        ({"suggestions": ["아침에 메트포르민 500mg을 챙겨 드리세요."]}, "dose or prescription"),
        ({"summary": "The completion rate was 80% this week, and meals went well."},
         "summary is not written in Korean"),
        ({"summary": "좋음"}, "summary must be 20..800 characters"),
        ({"suggestions": ["산책을 해 보세요."] * 7}, "at most 6 suggestions"),
    ],
)  # fmt: skip
def test_a_bad_summary_is_retried_then_the_template_serves(
    ai_settings, fake_openai, change, reason
):
    fake_openai.always(content={**GOOD, **change})

    written = report_summary.write(FIGURES)

    assert written.text == report_text.render(FIGURES)
    assert written.text.source == "template"
    assert len(fake_openai.requests) == 2
    assert all(reason in failure for failure in written.generation.failures)


def test_ai_off_gives_the_template_text(app_env, fake_openai):
    written = report_summary.write(FIGURES)
    assert written.text == report_text.render(FIGURES)
    assert written.generation.validation == "skipped"
    assert fake_openai.requests == []


def test_the_generation_is_recorded_with_the_report(
    ai_settings, fake_openai, parties: Parties, database_url
):
    fake_openai.reply(content=GOOD)
    written = report_summary.write(FIGURES)

    with get_database().transaction() as cur:
        report_summary.record(
            cur,
            written,
            patient_id=parties.patient_id,
            requested_by=parties.owner.user_id,
            report_id=4242,
        )

    with cursor(database_url) as cur:
        cur.execute(
            "SELECT kind, resource_type, resource_ids, source, validation, attempts,"
            " prompt_version, input_hash FROM ai_generations WHERE patient_id = %s",
            (parties.patient_id,),
        )
        (row,) = cur.fetchall()
    assert row["kind"] == "care_report_summary"
    assert (row["resource_type"], row["resource_ids"]) == ("care_report", [4242])
    assert (row["source"], row["validation"], row["attempts"]) == ("ai", "passed", 1)
    assert row["prompt_version"] == "report-summary/2026-11-v1"
    assert row["input_hash"] == written.generation.input_hash


def test_a_care_report_stores_the_ai_summary_and_its_generation(
    ai_app_server, fake_openai, parties: Parties, database_url
):
    """Over HTTP, once shared.care.service calls report_summary (no logs: no rates at all)."""
    summary = "이 기간에 기록된 돌봄 활동이 없습니다. 돌봄 일정을 등록하고 기록해 보세요."
    fake_openai.reply(content={"summary": summary, "suggestions": []})

    response = ai_app_server.request(
        "POST",
        f"api/patients/{parties.patient_id}/care-reports",
        json={"report_type": "weekly", "start_date": "2026-06-01", "end_date": "2026-06-07"},
        headers=parties.owner.headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["summary"], body["suggestions"], body["source"]) == (summary, [], "ai")
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT kind, resource_ids, source FROM ai_generations WHERE patient_id = %s",
            (parties.patient_id,),
        )
        assert cur.fetchall() == [
            {"kind": "care_report_summary", "resource_ids": [body["report_id"]], "source": "ai"}
        ]
