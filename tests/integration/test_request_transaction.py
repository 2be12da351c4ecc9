"""One connection and one transaction per request: the caller's token is checked as the first
statement of the request's unit of work, on the connection the handler then uses, in the same
transaction; the refusals of authentication (401) are what they were, and borrow no connection
for a token that is not even well signed.

Through the real pipeline (`handle_http`) on probe routes registered in-process, with the pool's
borrows counted and the transaction seen from inside (backend pid, `transaction_timestamp()`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest

from models.common import ApiModel
from shared.auth import users_repository
from shared.db import Database, get_database
from shared.http import Api, ApiRequest, RouteRegistry
from shared.http.pipeline import handle_http
from shared.unit_of_work import UnitOfWork
from tests.factories import cursor, make_guardian, make_user, token_for

pytestmark = pytest.mark.integration

Handler = Callable[[ApiRequest], Any]

WHERE_AM_I = "SELECT pg_backend_pid() AS pid, transaction_timestamp()::text AS began"


class NameIn(ApiModel):
    name: str


@pytest.fixture
def borrows(app_env, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection borrowed from the pool, by what borrowed it."""
    seen: list[str] = []
    original = Database.connection

    def counted(self: Database) -> Any:
        seen.append("borrow")
        return original(self)

    monkeypatch.setattr(Database, "connection", counted)
    return seen


@pytest.fixture
def token_checks(app_env, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Where each token's user was read: its backend and transaction."""
    seen: list[dict[str, Any]] = []
    original = users_repository.find_active_by_id

    def located(cur: Any, user_id: int) -> Any:
        row = original(cur, user_id)
        cur.execute(WHERE_AM_I)
        seen.append(one(cur))
        return row

    monkeypatch.setattr(users_repository, "find_active_by_id", located)
    return seen


@pytest.fixture
def guardian(app_env, database_url):
    with cursor(database_url) as cur:
        return make_guardian(cur)


def call(
    handler: Handler,
    headers: dict[str, str],
    *,
    method: str = "GET",
    payload: bytes = b"",
    **route: Any,
) -> func.HttpResponse:
    """One request through the real pipeline to a non-public probe route."""
    api = Api(tag="probe", registry=RouteRegistry())
    api.route(method, "api/probe", name="probe", **route)(handler)
    (spec,) = api.registry.routes()
    request = func.HttpRequest(
        method=method, url="http://127.0.0.1/api/probe", headers=headers, body=payload
    )
    return handle_http(spec, request)


def assert_refused(response: func.HttpResponse, status: int, code: str) -> None:
    """A problem+json answer with this status and code."""
    assert response.status_code == status, response.get_body()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.get_body())
    assert (body["status"], body["code"]) == (status, code)


def one(cur: Any) -> dict[str, Any]:
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def where_am_i(request: ApiRequest) -> dict[str, Any]:
    request.uow.cursor.execute(WHERE_AM_I)
    return one(request.uow.cursor)


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}", "Content-Type": "application/json"}


def test_the_token_check_and_the_handler_share_one_connection_and_one_transaction(
    guardian, borrows, token_checks
):
    response = call(where_am_i, bearer(guardian))
    assert response.status_code == 200, response.get_body()
    handler_saw = json.loads(response.get_body())
    assert len(token_checks) == 1
    assert token_checks[0] == handler_saw  # same backend, same transaction
    assert borrows == ["borrow"]


def test_each_request_is_one_transaction_of_its_own(guardian, borrows, token_checks):
    first = json.loads(call(where_am_i, bearer(guardian)).get_body())
    second = json.loads(call(where_am_i, bearer(guardian)).get_body())
    assert first["began"] != second["began"]
    assert token_checks == [first, second]
    assert borrows == ["borrow", "borrow"]


def test_a_handler_that_needs_no_database_still_costs_one_borrow(guardian, borrows):
    response = call(lambda request: {"user_id": request.user.user_id}, bearer(guardian))
    assert json.loads(response.get_body()) == {"user_id": guardian.user_id}
    assert borrows == ["borrow"]
    assert get_database().idle_count() >= 1  # given back


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-token", "Bearer forged"],
)
def test_a_missing_or_malformed_token_is_401_before_any_connection_is_borrowed(
    app_env, borrows, authorization
):
    forged = token_for(1, "guardian", secret="another-secret-that-is-long-enough-0000")
    headers = {} if authorization is None else {"Authorization": authorization}
    if authorization == "Bearer forged":
        headers = {"Authorization": f"Bearer {forged}"}
    ran: list[bool] = []
    response = call(lambda request: ran.append(True), headers)
    assert_refused(response, 401, "unauthorized")
    assert ran == []
    assert borrows == []


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE users SET is_active = false WHERE user_id = %s",
        "UPDATE users SET deleted_at = now() WHERE user_id = %s",
        "UPDATE users SET role = 'caregiver' WHERE user_id = %s",
        "UPDATE users SET token_version = token_version + 1 WHERE user_id = %s",
    ],
    ids=["deactivated", "deleted", "role changed", "token revoked"],
)
def test_a_token_whose_user_may_no_longer_act_is_401_and_the_connection_goes_back(
    app_env, database_url, borrows, change
):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian")
        cur.execute(change, (user.user_id,))
    ran: list[bool] = []
    response = call(lambda request: ran.append(True), bearer(user))
    assert_refused(response, 401, "unauthorized")
    assert ran == []
    assert borrows == ["borrow"]
    assert get_database().idle_count() >= 1


def test_invalid_input_after_authentication_is_422_and_rolls_the_transaction_back(
    guardian, borrows, token_checks
):
    ran: list[bool] = []
    response = call(
        lambda request: ran.append(True),
        bearer(guardian),
        method="POST",
        payload=b'{"name": 7}',
        body=NameIn,
    )
    assert_refused(response, 422, "validation_error")
    assert ran == []
    assert len(token_checks) == 1
    assert borrows == ["borrow"]
    assert get_database().idle_count() >= 1
    with get_database().connection() as conn:  # what came back is idle, not in a transaction
        assert conn.info.transaction_status == 0


def test_a_read_only_phase_after_authentication_is_read_only_in_the_same_transaction(
    guardian, borrows, token_checks
):
    def read_only_phase(request: ApiRequest) -> dict[str, Any]:
        cur = request.uow.read_only()
        cur.execute(WHERE_AM_I + ", current_setting('transaction_read_only') AS ro")
        return one(cur)

    seen = json.loads(call(read_only_phase, bearer(guardian)).get_body())
    assert seen["ro"] == "on"
    assert {"pid": seen["pid"], "began": seen["began"]} == token_checks[0]
    assert borrows == ["borrow"]


def test_begin_with_options_after_authentication_gets_them(guardian, token_checks):
    def explicit(request: ApiRequest) -> dict[str, Any]:
        cur = request.uow.begin(readonly=True)
        cur.execute("SHOW transaction_read_only")
        read_only = one(cur)["transaction_read_only"]
        with pytest.raises(RuntimeError, match="already open"):
            request.uow.begin()  # the handler's own transaction is open now
        request.uow.commit()
        cur = request.uow.begin(isolation="REPEATABLE READ")
        cur.execute("SHOW transaction_isolation")
        return {"read_only": read_only, **one(cur)}

    response = call(explicit, bearer(guardian))
    assert json.loads(response.get_body()) == {
        "read_only": "on",
        "transaction_isolation": "repeatable read",
    }


def test_an_isolation_level_after_authentication_begins_a_new_transaction(guardian, token_checks):
    def repeatable(request: ApiRequest) -> dict[str, Any]:
        cur = request.uow.begin(isolation="REPEATABLE READ")
        cur.execute(WHERE_AM_I + ", current_setting('transaction_isolation') AS iso")
        return one(cur)

    seen = json.loads(call(repeatable, bearer(guardian)).get_body())
    assert seen["iso"] == "repeatable read"
    assert seen["began"] != token_checks[0]["began"]


def test_a_unit_of_work_authenticates_once_and_first(app_env, guardian):
    with UnitOfWork(None) as uow:
        uow.cursor.execute("SELECT 1")
        with pytest.raises(RuntimeError, match="first"):
            uow.authenticate(lambda cur: None)  # type: ignore[arg-type, return-value]


# -- a lost connection -----------------------------------------------------------------------


@pytest.fixture
def own_db(migrated_database_url: str, app_env, monkeypatch: pytest.MonkeyPatch) -> str:
    """The in-process app on a database of this test's own, whose backends may be killed."""
    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    return migrated_database_url


def kill_backend(database_url: str, pid: int) -> None:
    with cursor(database_url) as cur:
        cur.execute("SELECT pg_terminate_backend(%s, 5000) AS killed", (pid,))
        assert one(cur)["killed"]


def test_a_get_that_loses_its_connection_is_retried_authentication_included(
    own_db, token_checks, borrows
):
    with cursor(own_db) as cur:
        user = make_guardian(cur)
    seen: list[dict[str, Any]] = []

    def dies_once(request: ApiRequest) -> dict[str, Any]:
        seen.append(where_am_i(request))
        if len(seen) == 1:
            kill_backend(own_db, seen[0]["pid"])
        return where_am_i(request)

    response = call(dies_once, bearer(user))
    assert response.status_code == 200, response.get_body()
    assert len(token_checks) == 2  # the second attempt checks the token again, on its connection
    assert token_checks[1] == seen[1] == json.loads(response.get_body())
    assert seen[0]["pid"] != seen[1]["pid"]
    assert borrows == ["borrow", "borrow"]


def test_a_write_that_loses_its_connection_is_a_503_and_not_retried(own_db, token_checks):
    with cursor(own_db) as cur:
        user = make_guardian(cur)
    attempts: list[int] = []

    def dies(request: ApiRequest) -> None:
        attempts.append(where_am_i(request)["pid"])
        kill_backend(own_db, attempts[-1])
        where_am_i(request)

    response = call(dies, bearer(user), method="POST")
    assert_refused(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert len(attempts) == 1
    assert len(token_checks) == 1
