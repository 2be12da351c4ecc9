"""Field parsers and label mapping of the CSV import: clean values, or the operator's reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from models.vocabularies import (
    Allergen,
    CareLevel,
    Certification,
    Condition,
    Day,
    DietType,
    LabeledEnum,
    MatchingStatus,
    Specialty,
)
from shared.data_import import labels
from shared.data_import import parsers as p
from shared.data_import.parsers import RowError

TODAY = date(2026, 11, 27)


# -- parsers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2024-02-29", " 1938-04-12 "])
def test_dates_in_iso_form_parse(value: str) -> None:
    assert p.date_value(value, "d") == date.fromisoformat(value.strip())


@pytest.mark.parametrize("value", ["2023-02-29", "1940-13-01", "12/03/1950", "1950-1-2", "어제"])
def test_bad_dates_name_the_column_and_the_value(value: str) -> None:
    with pytest.raises(RowError, match=rf"bad date in birth_date: '{value}'"):
        p.date_value(value, "birth_date")


def test_an_empty_date_is_none_unless_required() -> None:
    assert p.date_value("", "contract_end_date", required=False) is None
    with pytest.raises(RowError, match="missing birth_date"):
        p.date_value("  ", "birth_date")


@pytest.mark.parametrize("value", ["1899-12-31", "1900-01-01", "2026-11-28"])
def test_birth_dates_before_1900_or_in_the_future_are_bad(value: str) -> None:
    with pytest.raises(RowError, match="before 1900 or in the future"):
        p.birth_date(value, "birth_date", today=TODAY)
    assert p.birth_date("1900-01-02", "birth_date", today=TODAY) == date(1900, 1, 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("09:00", time(9)), ("9:30", time(9, 30)), ("18:00:00", time(18)), ("23:59", time(23, 59))],
)
def test_times(value: str, expected: time) -> None:
    assert p.time_value(value, "start_time") == expected


@pytest.mark.parametrize("value", ["24:00", "9", "09:60", "nine", "09-00"])
def test_bad_times(value: str) -> None:
    with pytest.raises(RowError, match=rf"bad time in start_time: '{value}'"):
        p.time_value(value, "start_time")


def test_timestamps_without_offset_are_korea_time_and_stored_as_utc() -> None:
    assert p.timestamp("2024-01-05 10:30:00", "created_at") == datetime(
        2024, 1, 5, 1, 30, tzinfo=UTC
    )
    assert p.timestamp("2024-01-05T10:30:00+00:00", "created_at") == datetime(
        2024, 1, 5, 10, 30, tzinfo=UTC
    )
    assert p.timestamp("2024-04-01", "created_at") == datetime(2024, 3, 31, 15, tzinfo=UTC)
    assert p.timestamp("", "created_at") is None
    with pytest.raises(RowError, match="bad date in created_at: 'yesterday'"):
        p.timestamp("yesterday", "created_at")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("True", True), ("False", False), ("true", True), ("FALSE", False), ("1", True), ("0", False)],
)
def test_booleans(value: str, expected: bool) -> None:
    assert p.boolean(value, "has_vehicle") is expected


@pytest.mark.parametrize("value", ["", "T", "maybe", "참"])
def test_bad_booleans(value: str) -> None:
    with pytest.raises(RowError, match="bad boolean in has_vehicle"):
        p.boolean(value, "has_vehicle")


def test_integers_accept_thousands_separators_and_whole_decimals() -> None:
    assert p.integer("15,000", "hourly_rate", low=1, high=1_000_000) == 15000
    assert p.integer("15000.0", "hourly_rate", low=1, high=1_000_000) == 15000
    with pytest.raises(RowError, match=r"bad number in hourly_rate: '15000\.5'"):
        p.integer("15000.5", "hourly_rate", low=1, high=1_000_000)
    with pytest.raises(RowError, match=r"hourly_rate 0 is out of range \(1..1000000\)"):
        p.integer("0", "hourly_rate", low=1, high=1_000_000)
    with pytest.raises(RowError, match="bad number in rating: ''"):
        p.integer("", "rating", low=1, high=5)


def test_decimals_round_and_check_their_range() -> None:
    assert p.decimal("152.54", "height", low=50, high=250, places=1) == Decimal("152.5")
    assert p.decimal("", "height") is None
    with pytest.raises(RowError, match="missing total_score"):
        p.decimal("", "total_score", required=True)
    with pytest.raises(RowError, match=r"height 300\.0 is out of range"):
        p.decimal("300", "height", low=50, high=250, places=1)
    for bad in ("NaN", "Infinity", "abc", "1e999999999"):
        with pytest.raises(RowError, match="bad number in total_score"):
            p.decimal(bad, "total_score")


def test_scores_are_whole_numbers_from_0_to_100() -> None:
    assert p.score("72", "empathy_score") == 72
    assert p.score("72.6", "empathy_score") == 73
    with pytest.raises(RowError, match="empathy_score 101 is out of range"):
        p.score("101", "empathy_score")


@pytest.mark.parametrize("value", ["C001", "caregiver_17", "p-3.a"])
def test_source_ids(value: str) -> None:
    assert p.source_id(f" {value} ", "caregiver_id") == value


@pytest.mark.parametrize("value", ["C 001", "C001@x", "-C1", "x" * 65, "김"])
def test_bad_source_ids(value: str) -> None:
    with pytest.raises(RowError, match="bad caregiver_id"):
        p.source_id(value, "caregiver_id")


def test_text_is_stripped_and_bounded() -> None:
    assert p.text("  김영희 ", "name", max_length=100) == "김영희"
    assert p.text("", "note", required=False) is None
    with pytest.raises(RowError, match="missing name"):
        p.text("   ", "name")
    with pytest.raises(RowError, match="name is longer than 3 characters"):
        p.text("김영희님", "name", max_length=3)


def test_lists_split_on_pipes_and_drop_empty_items() -> None:
    assert p.items("치매| 와상환자 ||") == ["치매", "와상환자"]
    assert p.items("") == []


def test_a_long_bad_value_is_shortened_in_the_reason() -> None:
    with pytest.raises(RowError) as caught:
        p.boolean("y" * 500, "has_vehicle")
    assert len(str(caught.value)) < 120


# -- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Male", "male"),
        ("Female", "female"),
        ("FEMALE", "female"),
        ("남성", "male"),
        ("여", "female"),
    ],
)
def test_genders(value: str, expected: str) -> None:
    assert labels.gender(value) == expected


def test_gender_may_be_empty_only_when_optional() -> None:
    assert labels.gender("", required=False) is None
    with pytest.raises(RowError, match="missing gender"):
        labels.gender("")
    with pytest.raises(RowError, match="unknown label in gender: 'Other'"):
        labels.gender("Other")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3등급", "grade_3"),
        ("1등급", "grade_1"),
        ("인지지원등급", "cognitive_support"),
        ("등급외", "none"),
        ("", "none"),
        ("grade_5", "grade_5"),
    ],
)
def test_care_levels(value: str, expected: str) -> None:
    assert labels.care_level(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Mon", "mon"), ("sun", "sun"), ("WED", "wed"), ("Thursday", "thu"), ("토", "sat")],
)
def test_days(value: str, expected: str) -> None:
    assert labels.day(value) == expected


def test_unknown_day_shows_the_value_as_written() -> None:
    with pytest.raises(RowError, match="unknown label in day_of_week: 'Xyz'"):
        labels.day("Xyz")


def test_lists_of_labels_become_distinct_codes_in_order() -> None:
    assert labels.certifications("요양보호사 1급|사회복지사 2급|요양보호사 1급") == [
        "caregiver_1",
        "social_worker_2",
    ]
    assert labels.specialties("치매|와상환자|재활|호스피스") == [
        "dementia",
        "bedridden_care",
        "rehabilitation",
        "hospice",
    ]
    assert labels.allergens("대두|계란") == ["soy", "egg"]
    assert labels.allergens("") == []
    with pytest.raises(RowError, match="unknown label in specialties: '요리'"):
        labels.specialties("치매|요리")


def test_conditions_diets_and_statuses() -> None:
    assert labels.condition("당뇨") == "diabetes"
    assert labels.diet_type("저염식") == "low_sodium"
    assert labels.diet_type("") == "regular"
    assert labels.matching_status("거절") == "declined"
    assert labels.matching_status("Completed") == "completed"
    with pytest.raises(RowError, match="unknown label in disease_name: '감기'"):
        labels.condition("감기")
    with pytest.raises(RowError, match="unknown label in status: 'pending'"):
        labels.matching_status("pending")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("guardian", "guardian"),
        ("보호자", "guardian"),
        ("요양보호사", "caregiver"),
        ("간병인", "caregiver"),
    ],
)
def test_reviewer_roles(value: str, expected: str) -> None:
    assert labels.reviewer_role(value) == expected


def test_admin_is_not_a_reviewer() -> None:
    with pytest.raises(RowError, match="unknown label in reviewer_type"):
        labels.reviewer_role("admin")


def test_grades() -> None:
    assert [labels.grade(g) for g in ("A+", "a", "B+", "C")] == ["A+", "A", "B+", "C"]
    with pytest.raises(RowError, match="unknown label in grade: 'D'"):
        labels.grade("D")


def test_regions_must_be_codes() -> None:
    assert labels.region(" SEOUL_GANGNAM ", "region_code") == "SEOUL_GANGNAM"
    for bad in ("서울 강남", "seoul_gangnam", "TOKYO_SHIBUYA", "SEOUL"):
        with pytest.raises(RowError, match="unknown region code in region_code"):
            labels.region(bad, "region_code")


@pytest.mark.parametrize(
    "vocabulary",
    [Allergen, CareLevel, Certification, Condition, Day, DietType, MatchingStatus, Specialty],
)
def test_label_lookup_agrees_with_the_vocabulary(vocabulary: type[LabeledEnum]) -> None:
    for member in vocabulary:
        assert labels.code(vocabulary, member.label, "c") == member.value
        assert labels.code(vocabulary, member.value, "c") == member.value
        assert str(vocabulary.from_label(member.label)) == member.value
