"""`GET /api/admin/audit-events?from=&to=`: any ISO 8601 timestamp is read, never a 500.

Found by `make fuzz`: an offset beyond PostgreSQL's ±15:59 (`-17:39`, valid ISO 8601 and valid
in Python) reached the database and answered 500, and a `from` without an offset beside a `to`
with one could not be compared (TypeError, 500). Both are now read in UTC."""

from __future__ import annotations

import pytest

from tests.problems import assert_problem

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "query",
    [
        {"to": "2691-12-29T02:43:44.639-17:39"},
        {"from": "2020-01-01T00:00:00+23:59"},
        {"from": "2020-01-01T00:00:00", "to": "2020-01-02T00:00:00Z"},
        {"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00"},
    ],
)
def test_any_offset_python_reads_is_answered(app_server, parties, query) -> None:
    response = app_server.get("api/admin/audit-events", params=query, headers=parties.admin.headers)
    assert response.status_code == 200, response.text


def test_a_timestamp_out_of_range_in_utc_is_a_validation_error(app_server, parties) -> None:
    response = app_server.get(
        "api/admin/audit-events",
        params={"from": "0001-01-01T00:00:00+05:00"},
        headers=parties.admin.headers,
    )
    assert_problem(response, 422, "validation_error")


def test_a_timestamp_without_an_offset_is_utc(app_server, parties) -> None:
    """Same instant with and without `Z`: the same events."""
    headers = parties.admin.headers
    naive = app_server.get(
        "api/admin/audit-events", params={"to": "2999-01-01T00:00:00"}, headers=headers
    )
    utc = app_server.get(
        "api/admin/audit-events", params={"to": "2999-01-01T00:00:00Z"}, headers=headers
    )
    assert naive.status_code == utc.status_code == 200
    assert naive.json()["total"] == utc.json()["total"]
