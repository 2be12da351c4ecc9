"""Ids are 64-bit: a route's id above 2,147,483,647 reaches the handler (`{x:long}`), which
answers as it does for any id it does not know, instead of the host's "no route"."""

from __future__ import annotations

import pytest

from shared.http import default_registry
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

BEYOND_INT32 = 2**31 + 5
BEYOND_INT64 = 2**63


def test_every_id_in_a_route_is_declared_64_bit() -> None:
    import function_app  # noqa: F401  (registers every route)

    narrow = [r.path for r in default_registry.routes() if ":int}" in r.path]
    assert narrow == [], f"ids declared as 32-bit {{x:int}}: {narrow}"


def test_an_id_beyond_32_bits_reaches_the_service(app_server, parties) -> None:
    owner = parties.headers("owner")
    for path in (
        f"api/patients/{BEYOND_INT32}",
        f"api/patients/{BEYOND_INT32}/medications",
        f"api/patients/{BEYOND_INT32}/schedules",
        f"api/caregivers/{BEYOND_INT32}",
    ):
        body = assert_problem(app_server.get(path, headers=owner), 404, "not_found")
        assert "no route" not in body["detail"], path


def test_an_id_beyond_64_bits_names_nothing(app_server, parties) -> None:
    owner = parties.headers("owner")
    assert_problem(app_server.get(f"api/patients/{BEYOND_INT64}", headers=owner), 404, "not_found")
