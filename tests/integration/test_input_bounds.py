"""Numbers and nesting a caller cannot push past the database or the parser: every integer in a
query is bounded (422, never "bigint out of range"), and a body nested deeper than any request
of this API is a 400 before validation (never a RecursionError)."""

from __future__ import annotations

import re

import pytest

from models.common import PageQuery
from shared.http import default_registry
from shared.http.pipeline import MAX_JSON_DEPTH
from tests.factories import Parties
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

TOO_BIG = (2**63, 13799335615957949218816)


def paged_routes() -> list[tuple[str, str, bool]]:
    """(name, path template, admin only) of every GET route that pages with ?offset=."""
    import function_app  # noqa: F401  (registers every route)

    return [
        (r.name, r.openapi_path, bool(r.roles and r.roles == {"admin"}))
        for r in default_registry.routes()
        if r.method == "GET" and r.query is not None and issubclass(r.query, PageQuery)
    ]


def concrete(path: str, parties: Parties) -> str:
    ids = {
        "patient_id": parties.patient_id,
        "caregiver_id": parties.assigned_caregiver.caregiver_id,
        "matching_id": parties.matching_id,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m[1], 1)), path)


def test_every_paged_list_is_found() -> None:
    names = {name for name, _path, _admin in paged_routes()}
    assert {"patients_list", "admin_audit_events"} <= names, names


@pytest.mark.parametrize("offset", TOO_BIG)
def test_an_offset_beyond_bigint_is_a_validation_error_on_every_list(
    app_server, parties: Parties, offset: int
) -> None:
    for name, path, admin_only in paged_routes():
        who = "admin" if admin_only or name.startswith("admin") else "owner"
        response = app_server.get(
            concrete(path, parties), params={"offset": str(offset)}, headers=parties.headers(who)
        )
        body = assert_problem(response, 422, "validation_error")
        assert ["query", "offset"] in [e["loc"] for e in body["errors"]], name


def test_the_audit_query_bounds_its_ids(app_server, parties: Parties) -> None:
    for field in ("actor_id", "patient_id"):
        response = app_server.get(
            "api/admin/audit-events", params={field: str(2**63)}, headers=parties.headers("admin")
        )
        body = assert_problem(response, 422, "validation_error")
        assert [e["loc"] for e in body["errors"]] == [["query", field]]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deep_json_is_a_bad_request_even_anonymously(app_server, depth: int) -> None:
    for path in ("api/auth/login", "api/auth/register"):
        response = app_server.request(
            "POST", path, data=nested(depth), headers={"Content-Type": "application/json"}
        )
        body = assert_problem(response, 400, "bad_request")
        assert f"deeper than {MAX_JSON_DEPTH}" in body["detail"]


def test_deep_json_is_a_bad_request_on_a_signed_in_route(app_server, parties: Parties) -> None:
    deep = '{"name": ' + '{"a": ' * 500 + "1" + "}" * 500 + "}"
    response = app_server.request(
        "PATCH",
        f"api/patients/{parties.patient_id}",
        data=deep,
        headers={**parties.headers("owner"), "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "bad_request")


def test_nesting_up_to_the_limit_is_read_and_validated(app_server) -> None:
    # Within the limit the body is parsed and validated as usual: a 422 naming the field.
    body = '{"email": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    response = app_server.request(
        "POST", "api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422, "validation_error")
