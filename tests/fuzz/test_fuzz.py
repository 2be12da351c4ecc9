"""`make fuzz`: the contract conformance fuzzing, wider than `make test`'s one seed.

Against a served app holding the demo data (`manage.py seed-demo`, a published demo matching
model), as the demo guardian and as an admin, for each seed of FUZZ_SEEDS (default 1 2 3 4 5):

- every operation with FUZZ_EXAMPLES generated requests (default 200), valid and invalid;
- the stateful phase: FUZZ_STATEFUL_EXAMPLES scenarios (default 50) of schemathesis's state
  machine, which follows the OpenAPI links (a created patient's id feeds its schedules, a
  schedule's its care logs, a matching request's first result its lifecycle).

Each response must not be a 5xx, must have a documented status, match its schema, and every
error must be problem+json with its status and a code. Failures are tallied (tests/fuzz/tally.py)
and printed at the end, with the calls and statuses of every seed and caller.

Selected only by `-m fuzz` (tests/fuzz/conftest.py deselects these tests otherwise).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky
from schemathesis import APIOperation
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Result

from tests.factories import make_parties
from tests.fixtures.app_server import ServedApp, start_app
from tests.fuzz.tally import TALLY
from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.fuzz


def _numbers(name: str, default: str) -> list[int]:
    return [
        int(part) for part in re.split(r"[,\s]+", os.environ.get(name, default).strip()) if part
    ]


SEEDS = _numbers("FUZZ_SEEDS", "1 2 3 4 5")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "50"))
STATEFUL_STEPS = 10
MAX_STATEFUL_RUNS = 10
CALLERS = ("guardian", "admin")
#: As in the conformance test: schema-valid but refused is expected where a rule is not
#: expressible in JSON Schema (a slot's end after its start, a date in the past).
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]
MODEL_PATH = "fuzz/matching"


def _document() -> dict[str, Any]:
    import function_app  # noqa: F401  (declares every route)
    from shared.http import default_registry
    from shared.http.openapi import build_openapi

    return build_openapi(default_registry, title="NeulbomCare API", version="fuzz")


def _operation(result: Result[APIOperation, InvalidSchema]) -> APIOperation:
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [_operation(result) for result in SCHEMA.get_all_operations()]


@dataclass(frozen=True)
class Target:
    app: ServedApp
    headers: dict[str, dict[str, str]]  # caller -> request headers


@pytest.fixture(scope="session")
def target(
    base_app_env: dict[str, str], database_url: str, azurite, tmp_path_factory
) -> Iterator[Target]:
    """A served app of its own with the demo data and a demo model; the callers' tokens."""
    from devtools.demo_model import ensure_demo_model
    from devtools.seed_demo import DEMO_GUARDIAN_EMAIL

    password = secrets.token_urlsafe(16)
    seeded = run_manage(
        "seed-demo",
        env=manage_env(
            APP_ENV="development", DATABASE_URL=database_url, SEED_DEMO_PASSWORD=password
        ),
        timeout=300,
    )
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    ensure_demo_model(azurite.connection_string, MODEL_PATH, requests=300)
    app = start_app(
        {**base_app_env, "XGBOOST_MODEL_PATH": MODEL_PATH},
        tmp_path_factory.mktemp("fuzz") / "serve.log",
    )
    try:
        login = requests.post(
            app.url("api/auth/login"),
            json={"email": DEMO_GUARDIAN_EMAIL, "password": password},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        guardian = {"Authorization": f"Bearer {login.json()['access_token']}"}
        admin = make_parties(database_url).admin.headers
        yield Target(app, {"guardian": guardian, "admin": admin})
    finally:
        app.stop()


def _label(operation: APIOperation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _check_problem(response: Any) -> None:
    """5xx never; an error is problem+json naming its status and a code."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), content_type
        body = response.json()
        assert body["status"] == response.status_code
        assert body["code"]


def _hypothesis_settings(examples: int, **more: Any) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=True,
        **more,
    )


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_operation(operation: APIOperation, seed: int, who: str, target: Target) -> None:
    """Generated requests (valid and invalid) of one operation honour its documented contract."""
    headers = target.headers[who]

    @hypothesis_seed(seed)
    @_hypothesis_settings(EXAMPLES)
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(base_url=target.app.base_url, headers=headers)
        TALLY.call("examples", seed, who, response.status_code)
        try:
            case.validate_response(response, excluded_checks=EXCLUDED_CHECKS, headers=headers)
            _check_problem(response)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis: FailureGroup
            TALLY.failure(_label(operation), response.status_code, exc)
            raise

    check()


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_stateful_links(seed: int, who: str, target: Target) -> None:
    """Scenarios chaining calls through the OpenAPI links honour the contract at every step."""
    headers = target.headers[who]
    base_url = target.app.base_url

    # The caller's token and the base URL as the schema's own configuration: schemathesis then
    # knows the Authorization header is the caller's, not part of a negative case it generated.
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    schema.config.update(base_url=base_url, headers=headers)

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def step(self, input: Any) -> Any:
            if input.transition is not None and input.applied_parameters:
                TALLY.links_followed += 1  # an id from an earlier response fed this call
            return super().step(input)

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            TALLY.call("stateful", seed, who, response.status_code)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            try:
                case.validate_response(
                    response,
                    excluded_checks=EXCLUDED_CHECKS,
                    headers=headers,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
                _check_problem(response)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis: FailureGroup
                TALLY.failure(f"{case.method} {case.path} (stateful)", response.status_code, exc)
                raise

        def teardown(self) -> None:
            scenarios.append(1)
            super().teardown()

    # The server's state changes under Hypothesis (a deleted patient answers 404 the second
    # time), so a run may end with Flaky: its data tree saw different draws for one prefix.
    # Without a failure tallied, that only ends the run early; the next run (a seed derived from
    # this one) continues until the scenarios are done, as schemathesis's own runner does.
    scenarios: list[int] = []
    failures_before = sum(TALLY.failures.values())
    for attempt in range(MAX_STATEFUL_RUNS):
        run_seed = seed if attempt == 0 else seed * 1000 + attempt
        hypothesis_seed(run_seed)(Machine)
        left = STATEFUL_EXAMPLES - len(scenarios)
        try:
            Machine.run(settings=_hypothesis_settings(left, stateful_step_count=STATEFUL_STEPS))
        except Flaky:
            if sum(TALLY.failures.values()) > failures_before:
                raise
            TALLY.flaky_restarts += 1
            continue
        break
    assert scenarios, "no stateful scenario ran to its end"
