"""OpenAPI links: the ids a create call returns feed the calls that take them, so schemathesis's
stateful phase (`make fuzz`) can chain a created patient into its schedules, a schedule into its
care logs and a matching request into its results. Declared with `links=` on `api.route`."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate

from shared.http import RouteRegistry
from shared.http.openapi import build_openapi
from shared.http.request import ApiRequest
from shared.http.route_spec import RouteSpec, feeds

B = "$response.body#/"


def _document() -> dict[str, Any]:
    import function_app  # noqa: F401  (declares every route)
    from shared.http import default_registry

    return build_openapi(default_registry, title="NeulbomCare API", version="test")


def _operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for methods in document["paths"].values():
        for operation in methods.values():
            if operation["operationId"] == operation_id:
                return dict(operation)
    raise AssertionError(f"no operation {operation_id}")


def _links(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    responses = _operation(document, operation_id)["responses"]
    success = next(r for status, r in responses.items() if status.startswith("2"))
    return dict(success.get("links", {}))


def test_the_document_with_links_is_valid_openapi() -> None:
    validate(_document())


def test_a_created_patient_feeds_every_route_of_that_patient() -> None:
    document = _document()
    links = _links(document, "patients_create")
    patient_routes = {
        operation["operationId"]
        for path, methods in document["paths"].items()
        if path.startswith("/api/patients/{patient_id}")
        and path.count("{") == 1  # medications/{med_id} is fed by the medication
        for operation in methods.values()
    }
    assert set(links) == patient_routes
    assert links["care_create_schedule"] == {
        "operationId": "care_create_schedule",
        "parameters": {"patient_id": B + "patient_id"},
    }


@pytest.mark.parametrize(
    ("source", "target", "parameters"),
    [
        ("care_create_schedule", "care_add_care_log", {"schedule_id": B + "schedule_id"}),
        ("care_create_schedule", "care_schedules_on_date", {"date": B + "schedule_date"}),
        ("care_add_care_log", "care_update_care_log", {"care_log_id": B + "care_log_id"}),
        ("care_plans_create", "care_plans_confirm", {"care_plan_id": B + "care_plan_id"}),
        (
            "matching_create_request",
            "matching_select",
            {"matching_id": B + "results/0/matching_id"},
        ),
        (
            "patients_add_medication",
            "patients_delete_medication",
            {"patient_id": B + "patient_id", "med_id": B + "medication_id"},
        ),
    ],
)
def test_created_ids_feed_the_next_call(source: str, target: str, parameters: dict) -> None:
    assert _links(_document(), source)[target]["parameters"] == parameters


def test_every_link_points_into_its_response_schema() -> None:
    """A pointer naming a field the response lacks would silently feed nothing."""
    document = _document()
    schemas = document["components"]["schemas"]
    for methods in document["paths"].values():
        for operation in methods.values():
            for status, response in operation["responses"].items():
                for link in response.get("links", {}).values():
                    schema = response["content"]["application/json"]["schema"]
                    for expression in link["parameters"].values():
                        node = schema
                        for part in expression.removeprefix(B).split("/"):
                            if "$ref" in node:
                                node = schemas[node["$ref"].rsplit("/", 1)[-1]]
                            node = node["items"] if part.isdigit() else node["properties"][part]
                        assert node, (operation["operationId"], status, expression)


def test_schemathesis_finds_the_links_for_its_stateful_phase() -> None:
    schema = schemathesis.openapi.from_dict(_document())
    links = sum(
        len(r.get("links", {}))
        for methods in _document()["paths"].values()
        for operation in methods.values()
        for r in operation["responses"].values()
    )
    assert schema.statistic.transitions.total == links >= 30
    assert schema.as_state_machine().bundles is not None


def _handler(_request: ApiRequest) -> None:
    return None


def _registry(links: dict[str, dict[str, str]]) -> RouteRegistry:
    registry = RouteRegistry()
    create = RouteSpec("things_create", "POST", "api/things", _handler, status=201, links=links)
    registry.add(create)
    registry.add(RouteSpec("things_get", "GET", "api/things/{thing_id:long}", _handler))
    return registry


def test_a_link_to_an_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operation 'things_gone'"):
        build_openapi(_registry(feeds("thing_id", "things_gone")), title="t", version="1")


def test_a_link_naming_a_parameter_the_operation_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match=r"parameters it lacks: \['id'\]"):
        build_openapi(
            _registry(feeds("thing_id", "things_get", parameter="id")), title="t", version="1"
        )


def test_feeds_names_the_parameter_after_the_last_part_of_the_field() -> None:
    assert feeds("results/0/matching_id", "a", "b") == {
        "a": {"matching_id": B + "results/0/matching_id"},
        "b": {"matching_id": B + "results/0/matching_id"},
    }
