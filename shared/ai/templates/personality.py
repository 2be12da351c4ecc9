"""The personality test: a fixed, versioned question set, its rubric and the rules analysis.

Twelve statements, three per axis, each answered on a 5-point scale (1 전혀 그렇지 않다 ..
5 매우 그렇다). One statement per axis is reversed. An axis score is the mean of its answers
mapped onto 0..100 ((answer - 1) / 4 x 100, or (5 - answer) / 4 x 100 when reversed), rounded.
The scores ALWAYS come from this rubric: AI only writes the analysis text, so it cannot
corrupt what matching reads. The question ids are fixed by models.personality_tests.

Change a question or the rubric -> bump VERSION (stored tests name the version they used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from models.personality_tests import ANSWER_LABELS, QUESTION_IDS, QUESTION_SET_VERSION
from models.vocabularies import PERSONALITY_AXES

VERSION = QUESTION_SET_VERSION
AXES = PERSONALITY_AXES


@dataclass(frozen=True)
class Question:
    id: str
    axis: str
    reverse: bool
    patient_text: str
    self_text: str

    def text(self, subject: str) -> str:
        return self.patient_text if subject == "patient" else self.self_text


QUESTIONS: tuple[Question, ...] = (
    Question("q1", "empathy", False,
             "다른 사람의 기분 변화를 잘 알아차리신다.",
             "돌봄을 받는 분의 기분 변화를 잘 알아차린다."),
    Question("q2", "empathy", False,
             "대화할 때 상대방의 이야기에 귀를 기울이신다.",
             "어르신의 이야기를 끝까지 들어 드리는 편이다."),
    Question("q3", "empathy", True,
             "다른 사람의 어려움에는 별로 관심을 두지 않으신다.",
             "일을 할 때 상대의 감정보다 해야 할 일에만 집중하는 편이다."),
    Question("q4", "activity", False,
             "밖에 나가거나 산책하는 것을 좋아하신다.",
             "어르신과 함께 몸을 움직이는 활동을 하는 것을 좋아한다."),
    Question("q5", "activity", False,
             "새로운 사람을 만나고 이야기하는 것을 즐기신다.",
             "새로운 사람과 금방 친해지는 편이다."),
    Question("q6", "activity", True,
             "하루 대부분을 조용히 쉬면서 보내는 것을 좋아하신다.",
             "조용하고 차분한 환경에서 일하는 것이 더 편하다."),
    Question("q7", "patience", False,
             "일이 뜻대로 되지 않아도 차분하게 기다리신다.",
             "일이 뜻대로 되지 않아도 차분함을 유지한다."),
    Question("q8", "patience", False,
             "같은 일을 여러 번 반복해도 짜증을 내지 않으신다.",
             "같은 설명을 여러 번 반복해도 힘들어하지 않는다."),
    Question("q9", "patience", True,
             "기다려야 하는 일이 생기면 쉽게 초조해하신다.",
             "일이 늦어지면 쉽게 초조해진다."),
    Question("q10", "independence", False,
             "스스로 할 수 있는 일은 직접 하려고 하신다.",
             "지시가 없어도 필요한 일을 스스로 찾아서 한다."),
    Question("q11", "independence", False,
             "하루 일과를 스스로 정해서 지내는 것을 좋아하신다.",
             "내 방식대로 일정을 계획해서 일하는 것을 좋아한다."),
    Question("q12", "independence", True,
             "작은 일도 다른 사람의 도움을 받는 것이 편하다고 느끼신다.",
             "판단이 필요할 때는 먼저 다른 사람의 의견을 구하는 편이다."),
)  # fmt: skip

if tuple(q.id for q in QUESTIONS) != QUESTION_IDS:  # pragma: no cover - a programming error
    raise RuntimeError("the rubric's questions differ from models.personality_tests")


def options() -> list[dict[str, object]]:
    return [{"value": value, "label": label} for value, label in ANSWER_LABELS.items()]


def score(answers: Mapping[str, int]) -> dict[str, int]:
    """The four axes (0..100) from answers 1..5 to every question."""
    points: dict[str, list[float]] = {axis: [] for axis in AXES}
    for question in QUESTIONS:
        answer = int(answers[question.id])
        if not 1 <= answer <= 5:
            raise ValueError(f"answer to {question.id} must be 1..5")
        value = (5 - answer) if question.reverse else (answer - 1)
        points[question.axis].append(value / 4 * 100)
    return {axis: round(sum(values) / len(values)) for axis, values in points.items()}


# -- the rules analysis ----------------------------------------------------------------------

_PATIENT_TEXT = {
    "empathy": (
        "다른 사람의 감정에 민감하고 정이 많으신 편입니다. 따뜻한 말과 공감 표현이 큰 힘이 됩니다.",
        "상황에 따라 정서적인 교감을 원하십니다. 평소 대화로 기분을 살펴 주세요.",
        "감정 표현보다는 실제 도움을 더 편하게 여기십니다. 필요한 도움을 분명하게 제안해 주세요.",
    ),
    "activity": (
        "움직이고 사람을 만나는 것을 좋아하십니다. 산책이나 함께하는 활동을 일과에 넣어 보세요.",
        "활동과 휴식을 적당히 즐기십니다. 컨디션에 맞춰 활동량을 조절해 주세요.",
        "조용한 휴식을 좋아하십니다. 짧고 편안한 활동부터 천천히 권해 보세요.",
    ),
    "patience": (
        "차분하고 기다림에 익숙하십니다. 새로운 활동도 여유 있게 시도해 볼 수 있습니다.",
        "대체로 차분하시지만 기다림이 길어지면 힘들어하실 수 있습니다. 일정을 미리 알려 드리세요.",
        "기다리는 것을 힘들어하실 수 있습니다. 일정과 순서를 짧고 분명하게 안내해 주세요.",
    ),
    "independence": (
        "스스로 하시려는 마음이 강합니다. 할 수 있는 일은 직접 하시도록 곁에서 지켜봐 주세요.",
        "도움과 자립 사이의 균형을 원하십니다. 도움이 필요한지 먼저 여쭤 보세요.",
        "도움을 받는 것을 편하게 여기십니다."
        " 세심하게 챙겨 주되 작은 일부터 스스로 하시도록 격려해 주세요.",
    ),
}
_SELF_TEXT = {
    "empathy": (
        "상대의 감정을 잘 읽는 공감형입니다. 정서적 지지가 필요한 어르신과 잘 맞습니다.",
        "공감과 업무 사이의 균형이 잡혀 있습니다.",
        "해야 할 일에 집중하는 실무형입니다."
        " 어르신의 기분을 묻는 짧은 대화를 곁들이면 더 좋습니다.",
    ),
    "activity": (
        "활동적인 돌봄을 즐깁니다. 산책과 재활 활동이 많은 돌봄에 잘 맞습니다.",
        "활동과 휴식을 상황에 맞게 조절합니다.",
        "차분한 돌봄에 강점이 있습니다. 조용한 환경을 선호하는 어르신과 잘 맞습니다.",
    ),
    "patience": (
        "인내심이 강합니다. 반복 설명이 필요한 인지 돌봄에 강점이 있습니다.",
        "대체로 차분하게 대응합니다. 힘들 때 잠시 쉬어 가는 방법을 함께 정해 두세요.",
        "빠른 진행을 선호합니다. 반복이 많은 돌봄에서는 여유 있는 일정을 잡아 보세요.",
    ),
    "independence": (
        "스스로 판단하고 움직이는 자율형입니다. 보호자와 정기적으로 내용을 공유해 주세요.",
        "자율과 협의의 균형을 잘 맞춥니다.",
        "협의를 중시합니다. 보호자와 역할을 분명히 정해 두면 더 편하게 일할 수 있습니다.",
    ),
}
HIGH, LOW = 67, 33


def rules_analysis(subject: str, scores: Mapping[str, int]) -> str:
    """A Korean analysis composed from the score bands of each axis."""
    texts = _PATIENT_TEXT if subject == "patient" else _SELF_TEXT
    sentences = []
    for axis in AXES:
        value = scores[axis]
        band = 0 if value >= HIGH else 2 if value <= LOW else 1
        sentences.append(texts[axis][band])
    return " ".join(sentences)
