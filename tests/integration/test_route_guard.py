"""Every HTTP function the FunctionApp registers requires a valid token unless marked public.

The list of functions comes from the served app's host (`GET /admin/functions`, the same index
the Functions host builds from `function_app.app`), not from our own route registry, so a route
added later by any means cannot forget authentication: it fails here until it answers 401.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.config import DEVELOPMENT_JWT_SECRET
from tests.factories import cursor, make_user

pytestmark = pytest.mark.integration

#: Functions anyone may call. Anything else must refuse a caller without a valid token.
#: Public functions that are not routes of the contract: the catch-all (404/405, preflight) and
#: HEAD /health (the operations guide's `curl -I`).
OUTSIDE_THE_CONTRACT = {"route_not_found", "health_head"}

PUBLIC_FUNCTIONS = {
    "health",
    "health_ready",
    "openapi",
    "docs_page",  # Swagger UI (GET /api/docs) and its allow-listed files
    "docs_asset",
    "auth_register",
    "auth_login",
    "route_not_found",  # the catch-all: answers 404/405 for paths no route serves
    "health_head",  # HEAD /health: liveness without a body
}
_PARAM = re.compile(r"\{[^}]+\}")


def _concrete(route: str) -> str:
    """Fill every route parameter with a value any parameter type accepts."""
    return "/" + _PARAM.sub("1", route)


def _token(user_id: int, *, key: str, expired: bool = False, alg: str = "HS256") -> str:
    now = datetime.now(UTC) - (timedelta(hours=2) if expired else timedelta())
    claims = {"sub": str(user_id), "role": "admin", "iat": now, "exp": now + timedelta(hours=1)}
    return jwt.encode(claims, key, algorithm=alg)


def _unsigned(user_id: int) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    payload = jwt.utils.base64url_encode(
        f'{{"sub":"{user_id}","role":"admin","iat":{exp - 3600},"exp":{exp}}}'.encode()
    ).decode()
    return f"{header}.{payload}."


@pytest.fixture(scope="module")
def http_functions(app_server) -> list[dict]:
    listed = app_server.get("admin/functions").json()
    return [f for f in listed if f["trigger"] == "http"]


@pytest.fixture(scope="module")
def admin(database_url):
    with cursor(database_url) as cur:
        return make_user(cur, "admin")


def test_the_public_functions_are_exactly_the_intended_ones(http_functions):
    import function_app  # noqa: F401  (declares every route)
    from shared.http import default_registry

    registered = {f["name"] for f in http_functions}
    declared_public = {r.name for r in default_registry.routes() if r.public}
    assert declared_public | OUTSIDE_THE_CONTRACT == PUBLIC_FUNCTIONS
    assert registered >= PUBLIC_FUNCTIONS
    # Every registered function is a declared route or one of the two outside the contract.
    assert registered == {r.name for r in default_registry.routes()} | OUTSIDE_THE_CONTRACT


def test_every_non_public_function_refuses_missing_forged_and_expired_tokens(
    app_server, http_functions, admin
):
    credentials = {
        "none": None,
        "garbage": "not.a.token",
        "wrong_key": _token(admin.user_id, key="attacker-chosen-key-" + "x" * 32),
        "alg_none": _unsigned(admin.user_id),
        "other_alg": _token(admin.user_id, key=DEVELOPMENT_JWT_SECRET * 2, alg="HS512"),
        "expired": _token(admin.user_id, key=DEVELOPMENT_JWT_SECRET, expired=True),
    }
    checked = 0
    for function in http_functions:
        if function["name"] in PUBLIC_FUNCTIONS:
            continue
        path = _concrete(function["route"])
        for method in function["methods"]:
            for label, token in credentials.items():
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = app_server.request(method, path, headers=headers, json={})
                assert response.status_code == 401, (function["name"], method, label)
                assert response.json()["code"] == "unauthorized"
                assert response.headers["WWW-Authenticate"] == "Bearer"
                checked += 1
    assert checked >= len(credentials)  # the loop above is never vacuous


def test_a_valid_token_passes_the_guard(app_server, admin):
    """The control: the same request with a valid token is not refused."""
    valid = _token(admin.user_id, key=DEVELOPMENT_JWT_SECRET)
    response = app_server.get("api/auth/me", headers={"Authorization": f"Bearer {valid}"})
    assert response.status_code == 200
    assert response.json()["user_id"] == admin.user_id


def test_a_role_that_may_never_call_a_route_is_refused_before_its_input_is_read(
    app_server, database_url
):
    """403, not 422: a guardian learns nothing about a caregiver-only route's body."""
    import function_app  # noqa: F401
    from shared.http import default_registry

    with cursor(database_url) as cur:
        guardian = make_user(cur, "guardian")
    gated = [r for r in default_registry.routes() if r.roles and "guardian" not in r.roles]
    assert gated, "some routes are limited to roles other than guardian"
    for route in gated:
        path = _concrete(route.path)
        response = app_server.request(
            route.method, path, headers=guardian.headers, data=b'{"not": "valid"'
        )
        assert response.status_code == 403, (route.name, response.text)
        assert response.json()["code"] == "forbidden"
