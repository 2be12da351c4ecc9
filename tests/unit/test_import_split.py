"""The source id of a request split off for one matching (loaders.matchings.split_source_id)."""

from __future__ import annotations

import pytest

from shared.data_import import parsers as p
from shared.data_import.loaders.matchings import SOURCE_ID_MAX, split_source_id


def test_a_split_request_is_named_by_its_request_and_matching() -> None:
    assert split_source_id("R002", "M006") == "R002/M006"


def test_a_split_id_never_collides_with_a_pilot_id() -> None:
    # A pilot id may not hold "/", so no request_id in a file can name a split request.
    with pytest.raises(p.RowError, match="letters, digits"):
        p.source_id(split_source_id("R002", "M006"), "request_id")


def test_long_ids_fit_the_lookup_and_stay_distinct() -> None:
    request = "R" * 64
    first = split_source_id(request, "M" * 64)
    second = split_source_id(request, "M" * 63 + "N")

    assert len(first) == len(second) == SOURCE_ID_MAX
    assert first != second
    assert first.startswith("R" * 47 + "/")
    assert split_source_id(request, "M" * 64) == first  # the same pair, the same id
