"""The API's vocabularies: codes, Korean labels and the score grades."""

from __future__ import annotations

import re

import pytest

from models.vocabularies import (
    REGION_CODE_PATTERN,
    CareLevel,
    Condition,
    Grade,
    Specialty,
    grade_for,
)


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, Grade.A_PLUS), (90, Grade.A_PLUS), (89.99, Grade.A), (80, Grade.A), (70, Grade.B_PLUS),
     (69.9, Grade.B), (60, Grade.B), (59.99, Grade.C), (0, Grade.C)],
)  # fmt: skip
def test_grades_follow_the_contract_cut_offs(score, grade):
    assert grade_for(score) is grade


def test_labels_map_back_to_codes():
    assert CareLevel.from_label("3등급") is CareLevel.GRADE_3
    assert CareLevel.from_label("인지지원등급") is CareLevel.COGNITIVE_SUPPORT
    assert Condition.from_label(" 치매 ") is Condition.DEMENTIA
    assert Condition.from_label("stroke") is Condition.STROKE
    with pytest.raises(ValueError, match="unknown Condition"):
        Condition.from_label("감기")


def test_specialties_are_every_condition_plus_the_service_tags():
    codes = {s.value for s in Specialty}
    assert {c.value for c in Condition} < codes
    assert codes - {c.value for c in Condition} == {
        "hospice",
        "bedridden_care",
        "feeding_assist",
        "rehabilitation",
    }
    assert Specialty("dementia").label == "치매"


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("SEOUL_GANGNAM", True),
        ("GYEONGGI_GOYANG", True),
        ("JEJU_SEOGWIPO", True),
        ("TOKYO_SHIBUYA", False),
        ("SEOUL", False),
        ("seoul_gangnam", False),
        ("SEOUL_GANG NAM", False),
    ],
)
def test_region_codes(code, valid):
    assert bool(re.match(REGION_CODE_PATTERN, code)) is valid
