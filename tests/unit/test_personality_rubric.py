"""The personality test's fixed rubric: scores come from the answers alone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.personality_tests import QUESTION_IDS, PersonalityTestIn
from shared.ai import checks
from shared.ai.templates import personality as rubric

AXES = ("empathy", "activity", "patience", "independence")


def answers(default: int = 3, **given: int) -> dict[str, int]:
    return {qid: given.get(qid, default) for qid in QUESTION_IDS}


def test_the_question_set_is_fixed_and_covers_each_axis_three_times():
    assert rubric.VERSION == "pt-2026-11-v1"
    assert [q.id for q in rubric.QUESTIONS] == [f"q{n}" for n in range(1, 13)]
    for axis in AXES:
        on_axis = [q for q in rubric.QUESTIONS if q.axis == axis]
        assert len(on_axis) == 3
        assert sum(q.reverse for q in on_axis) == 1
    for question in rubric.QUESTIONS:
        for subject in ("patient", "self"):
            assert checks.korean_problem(question.id, question.text(subject)) is None
        assert question.text("patient") != question.text("self")
    assert [o["value"] for o in rubric.options()] == [1, 2, 3, 4, 5]


def test_neutral_answers_score_fifty():
    assert rubric.score(answers(3)) == dict.fromkeys(AXES, 50)


def test_agreeing_with_everything_does_not_max_out_an_axis():
    """Each axis has one reversed statement, so blanket agreement lands at 67, not 100."""
    assert rubric.score(answers(5)) == dict.fromkeys(AXES, 67)
    assert rubric.score(answers(1)) == dict.fromkeys(AXES, 33)


def test_extremes_of_one_axis_and_independence_of_the_others():
    high = rubric.score(answers(3, q1=5, q2=5, q3=1))
    assert high == {"empathy": 100, "activity": 50, "patience": 50, "independence": 50}
    low = rubric.score(answers(3, q10=1, q11=1, q12=5))
    assert low == {"empathy": 50, "activity": 50, "patience": 50, "independence": 0}
    mixed = rubric.score(answers(3, q4=4, q5=2, q6=2))  # 75, 25, 75 -> 58.3
    assert mixed["activity"] == 58


def test_answers_outside_the_scale_are_refused():
    with pytest.raises(ValueError, match="q7"):
        rubric.score(answers(3, q7=6))


def test_the_request_model_names_each_bad_answer():
    with pytest.raises(ValidationError) as info:
        PersonalityTestIn.model_validate(
            {"subject": "self", "answers": {**answers(3, q2=0), "q13": 3, "q5": None}}
        )
    locs = {e["loc"] for e in info.value.errors()}
    assert locs == {("answers", "q2"), ("answers", "q5"), ("answers", "q13")}


def test_the_rules_analysis_follows_the_bands():
    warm = rubric.rules_analysis("patient", {"empathy": 90, "activity": 10, "patience": 50,
                                              "independence": 67})  # fmt: skip
    assert "정이 많으신 편" in warm
    assert "조용한 휴식을 좋아하십니다" in warm
    assert "스스로 하시려는 마음이 강합니다" in warm
    mine = rubric.rules_analysis("self", {"empathy": 20, "activity": 80, "patience": 33,
                                          "independence": 40})  # fmt: skip
    assert "실무형" in mine
    assert "활동적인 돌봄" in mine
    assert "빠른 진행" in mine
    for text in (warm, mine):
        assert checks.korean_problem("analysis", text) is None
        assert checks.medical_text_problems(text) == []
