"""The OpenAPI document is the contract, tested: schemathesis generates requests for every
operation of `/api/openapi.json` on the served app, as a signed-in guardian who owns demo data,
and checks that nothing answers 5xx, every status is documented, every body matches its schema,
and every error is problem+json. A second test holds the document to docs/api-routes.txt."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Result

from tests.factories import make_parties

pytestmark = pytest.mark.integration

#: Schema-valid but refused is expected where a rule is not expressible in JSON Schema (a slot's
#: end after its start, an email's shape, a date in the past), so that check would only flake.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]
ROUTES_FILE = Path(__file__).resolve().parents[2] / "docs" / "api-routes.txt"


@pytest.fixture(scope="session")
def signed_in(app_server, database_url) -> dict[str, str]:
    """A guardian with a patient, caregivers in active and selected matchings, and an admin."""
    return make_parties(database_url).owner.headers


def _operation(result: Result[APIOperation, InvalidSchema]) -> APIOperation:
    """The operation, or the schema error that kept schemathesis from building it."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def _operations() -> list[APIOperation]:
    """Every operation of the document the served app publishes (built the same way here)."""
    import function_app  # noqa: F401  (declares every route)
    from shared.http import default_registry
    from shared.http.openapi import build_openapi

    document = build_openapi(default_registry, title="NeulbomCare API", version="test")
    schema = schemathesis.openapi.from_dict(document)
    return [_operation(result) for result in schema.get_all_operations()]


OPERATIONS = _operations()


def test_the_served_document_is_the_one_tested(app_server):
    served = app_server.get("api/openapi.json").json()
    assert {(o.method.upper(), o.path) for o in OPERATIONS} == {
        (method.upper(), path) for path, ops in served["paths"].items() for method in ops
    }


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: f"{o.method.upper()} {o.path}")
def test_every_operation_honours_its_documented_contract(operation, app_server, signed_in):
    """Generated requests (valid and invalid) never get a 5xx, an undocumented status, a body
    off its schema, or an error that is not problem+json."""

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = case.call_and_validate(
            base_url=app_server.base_url, headers=signed_in, excluded_checks=EXCLUDED_CHECKS
        )
        assert response.status_code < 500
        if response.status_code >= 400:
            assert response.headers["content-type"][0].startswith("application/problem+json")
            body = response.json()
            assert body["status"] == response.status_code
            assert body["code"]

    check()


def test_every_route_of_the_contract_is_in_the_openapi_document(app_server):
    document = app_server.get("api/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    contract = {
        tuple(line.split())
        for line in ROUTES_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    missing = contract - documented
    assert not missing, f"routes of docs/api-routes.txt not served: {sorted(missing)}"
