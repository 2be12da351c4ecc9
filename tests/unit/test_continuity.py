"""The Bice-Boxerman continuity of care index against hand-computed cases, and the query's
period rules."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.care import ContinuityQuery
from shared.continuity import coc_index, figures, period


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # One caregiver made all 10 visits: (100 - 10) / (10 * 9) = 1.
        ([10], 1.0),
        # Each of 4 visits by another caregiver: (4 - 4) / (4 * 3) = 0.
        ([1, 1, 1, 1], 0.0),
        # 6 and 4: (36 + 16 - 10) / (10 * 9) = 42 / 90.
        ([6, 4], 42 / 90),
        # 3, 1, 1: (9 + 1 + 1 - 5) / (5 * 4) = 6 / 20 = 0.3.
        ([3, 1, 1], 0.3),
        # 2 and 2: (4 + 4 - 4) / (4 * 3) = 1 / 3.
        ([2, 2], 1 / 3),
        # Two visits by one caregiver: (4 - 2) / (2 * 1) = 1.
        ([2], 1.0),
        # A caregiver with no visit changes nothing: same as [3, 1, 1].
        ([3, 0, 1, 1], 0.3),
    ],
)
def test_the_index_matches_hand_computed_cases(counts: list[int], expected: float) -> None:
    assert coc_index(counts) == pytest.approx(expected)


@pytest.mark.parametrize("counts", [[], [1], [0, 1], [0]])
def test_the_index_is_undefined_for_fewer_than_two_visits(counts: list[int]) -> None:
    assert coc_index(counts) is None


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        coc_index([3, -1])


def test_figures_round_and_name_the_most_frequent_share() -> None:
    found = figures([6, 3, 0, 1])

    # (36 + 9 + 1 - 10) / (10 * 9) = 36 / 90 = 0.4; the caregiver with no visit is not counted.
    assert found.index == 0.4
    assert found.visits == 10
    assert found.caregivers == 3
    assert found.most_frequent_share == 0.6


def test_figures_without_visits() -> None:
    found = figures([])

    assert (found.index, found.visits, found.caregivers, found.most_frequent_share) == (
        None,
        0,
        0,
        None,
    )


def test_one_visit_has_a_share_but_no_index() -> None:
    found = figures([1])

    assert (found.index, found.visits, found.most_frequent_share) == (None, 1, 1.0)


def test_the_query_refuses_to_before_from_and_overlong_ranges() -> None:
    with pytest.raises(ValidationError) as before:
        ContinuityQuery.model_validate({"from": "2030-02-01", "to": "2030-01-31"})
    assert before.value.errors()[0]["loc"] == ("to",)
    with pytest.raises(ValidationError) as too_long:
        ContinuityQuery.model_validate({"from": "2030-01-01", "to": "2031-01-02"})
    assert too_long.value.errors()[0]["loc"] == ("to",)
    year = ContinuityQuery.model_validate({"from": "2030-01-01", "to": "2030-12-31"})
    assert (year.from_, year.to) == (date(2030, 1, 1), date(2030, 12, 31))


TODAY = date(2030, 6, 30)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (date(2030, 4, 2), TODAY)),  # the 90 days up to today
        (date(2030, 1, 1), date(2030, 1, 31), (date(2030, 1, 1), date(2030, 1, 31))),
        (None, date(2030, 3, 31), (date(2030, 1, 1), date(2030, 3, 31))),
        (date(2030, 6, 1), None, (date(2030, 6, 1), TODAY)),
        (date(2020, 1, 1), None, (date(2020, 1, 1), date(2020, 12, 31))),  # at most 366 days
        (date(2031, 1, 1), None, (date(2031, 1, 1), date(2031, 1, 1))),  # a future start
        (None, date(1, 1, 5), (date.min, date(1, 1, 5))),  # the calendar's first days
        (date(9999, 12, 1), None, (date(9999, 12, 1), date(9999, 12, 1))),
    ],
)
def test_the_period_asked_for(start, end, expected) -> None:
    assert period(start, end, TODAY) == expected
