"""The hard filters' SQL takes its order from FILTER_ORDER (one list, no drift)."""

from __future__ import annotations

import re

import pytest

from models.matching import FILTER_ORDER
from shared.matching import filters


def test_the_sql_classifies_in_filter_order():
    case = filters.failed_filter_case()
    assert tuple(re.findall(r"THEN '(\w+)'", case)) == FILTER_ORDER
    assert case.format(available="true") in filters._statement(filters._REGION, "true")


def test_an_order_that_misses_or_adds_a_filter_is_refused():
    with pytest.raises(ValueError, match="no order"):
        filters.failed_filter_case(FILTER_ORDER[:-1])
    with pytest.raises(ValueError, match="no order"):
        filters.failed_filter_case((*FILTER_ORDER, "mood"))


def test_a_new_order_reorders_the_branches():
    reordered = (*FILTER_ORDER[1:], FILTER_ORDER[0])
    case = filters.failed_filter_case(reordered)
    assert tuple(re.findall(r"THEN '(\w+)'", case)) == reordered
