"""Accounts over HTTP on the served app: register, login (throttled), me."""

from __future__ import annotations

import statistics
import time

import pytest
import requests

from tests.factories import PASSWORD, cursor, make_user, unique_email
from tests.problems import assert_problem

pytestmark = pytest.mark.integration


def register_body(**overrides) -> dict:
    body = {
        "email": unique_email("reg"),
        "password": "a-long-password-1",
        "name": "김보호",
        "phone": "010-2222-3333",
        "role": "guardian",
        "gender": "female",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def users_with_email(database_url: str, email: str) -> int:
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM users WHERE lower(email) = lower(%s)", (email,))
        return cur.fetchone()["n"]


def test_register_creates_the_account_and_signs_it_in(app_server, database_url):
    body = register_body(role="caregiver", gender="male")
    response = app_server.request("POST", "api/auth/register", json=body)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["token_type"] == "bearer"
    assert created["expires_in"] == 12 * 3600
    user = created["user"]
    assert {k: user[k] for k in ("email", "name", "phone", "role", "gender")} == {
        "email": body["email"],
        "name": "김보호",
        "phone": "010-2222-3333",
        "role": "caregiver",
        "gender": "male",
    }
    assert set(user) == {"user_id", "email", "name", "phone", "role", "gender", "created_at"}
    me = app_server.get(
        "api/auth/me", headers={"Authorization": f"Bearer {created['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == user
    with cursor(database_url) as cur:
        cur.execute("SELECT password_hash FROM users WHERE user_id = %s", (user["user_id"],))
        stored = cur.fetchone()["password_hash"]
    assert stored.startswith("$argon2id$")
    assert body["password"] not in stored
    assert body["password"] not in app_server.logs()


def test_duplicate_email_is_a_conflict_whatever_its_case(app_server, database_url):
    body = register_body()
    assert app_server.request("POST", "api/auth/register", json=body).status_code == 201
    again = register_body(email=body["email"].upper())
    assert_problem(app_server.request("POST", "api/auth/register", json=again), 409, "conflict")
    assert users_with_email(database_url, body["email"]) == 1


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"role": "admin"}, {"role"}),
        ({"role": "operator"}, {"role"}),
        ({"email": "not-an-email"}, {"email"}),
        ({"email": "x" * 250 + "@example.com"}, {"email"}),
        ({"password": "short"}, {"password"}),
        ({"phone": "12345"}, {"phone"}),
        ({"gender": "other"}, {"gender"}),
        ({"name": "   "}, {"name"}),
        (
            {"email": "", "password": "", "name": "", "role": ""},
            {"email", "password", "name", "role"},
        ),
    ],
)
def test_bad_registrations_name_each_field_and_write_nothing(
    app_server, database_url, overrides, fields
):
    body = register_body(**overrides)
    problem = assert_problem(
        app_server.request("POST", "api/auth/register", json=body), 422, "validation_error"
    )
    assert {tuple(e["loc"]) for e in problem["errors"]} == {("body", f) for f in fields}
    if "@" in body["email"]:
        assert users_with_email(database_url, body["email"]) == 0


def test_missing_fields_are_each_named(app_server):
    problem = assert_problem(
        app_server.request("POST", "api/auth/register", json={}), 422, "validation_error"
    )
    named = {tuple(e["loc"]) for e in problem["errors"]}
    assert named == {("body", "email"), ("body", "password"), ("body", "name"), ("body", "role")}


def test_unknown_fields_are_refused(app_server):
    problem = assert_problem(
        app_server.request("POST", "api/auth/register", json=register_body(is_admin=True)),
        422,
        "validation_error",
    )
    assert ["body", "is_admin"] in [e["loc"] for e in problem["errors"]]


@pytest.fixture(autouse=True)
def forget_local_failures(database_url):
    """Every request to the served app comes from 127.0.0.1, and the address ceiling counts the
    failures of every test in the window: forget them, so each test starts from its own."""
    with cursor(database_url) as cur:
        cur.execute("DELETE FROM login_attempts WHERE client_ip = '127.0.0.1'")


@pytest.fixture
def account(database_url):
    with cursor(database_url) as cur:
        return make_user(cur, "guardian", with_password=True)


def login(app_server, email: str, password: str) -> requests.Response:
    return app_server.request("POST", "api/auth/login", json={"email": email, "password": password})


def test_login_returns_a_working_token(app_server, account, database_url):
    response = login(app_server, account.email.upper(), PASSWORD)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = app_server.get("api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["user_id"] == account.user_id
    with cursor(database_url) as cur:
        cur.execute("SELECT last_login_at FROM users WHERE user_id = %s", (account.user_id,))
        assert cur.fetchone()["last_login_at"] is not None


def test_wrong_password_and_unknown_email_look_the_same(app_server, account):
    def timed(email: str) -> tuple[requests.Response, float]:
        started = time.perf_counter()
        response = login(app_server, email, "wrong-password-123")
        return response, time.perf_counter() - started

    wrong = [timed(account.email) for _ in range(3)]
    unknown = [timed(unique_email("nobody")) for _ in range(3)]
    bodies = set()
    for response, _ in wrong + unknown:
        problem = assert_problem(response, 401, "unauthorized")
        problem.pop("request_id")
        bodies.add(tuple(sorted(problem.items())))
    assert len(bodies) == 1
    # Both paths run one argon2 verification: their medians are of the same order.
    wrong_median = statistics.median(t for _, t in wrong)
    unknown_median = statistics.median(t for _, t in unknown)
    assert 0.33 < wrong_median / unknown_median < 3


def test_imported_account_without_password_cannot_log_in(app_server, database_url):
    with cursor(database_url) as cur:
        user = make_user(cur, "caregiver", with_password=False)
    assert_problem(login(app_server, user.email, PASSWORD), 401, "unauthorized")


def test_deactivated_account_cannot_log_in(app_server, account, database_url):
    with cursor(database_url) as cur:
        cur.execute("UPDATE users SET is_active = false WHERE user_id = %s", (account.user_id,))
    assert_problem(login(app_server, account.email, PASSWORD), 401, "unauthorized")


def test_sixth_failure_is_throttled_until_the_window_passes(app_server, account, database_url):
    for _ in range(5):
        assert_problem(login(app_server, account.email, "wrong-password-123"), 401, "unauthorized")

    throttled = login(app_server, account.email, PASSWORD)  # even the right password waits
    assert_problem(throttled, 429, "rate_limited")
    assert 14 * 60 < int(throttled.headers["Retry-After"]) <= 15 * 60
    # Other emails are unaffected.
    with cursor(database_url) as cur:
        other = make_user(cur, "guardian", with_password=True)
    assert login(app_server, other.email, PASSWORD).status_code == 200

    with cursor(database_url) as cur:  # the window passes
        cur.execute(
            "UPDATE login_attempts SET attempted_at = attempted_at - interval '16 minutes'"
            " WHERE user_id = %s",
            (account.user_id,),
        )
    assert login(app_server, account.email, PASSWORD).status_code == 200


def test_throttled_attempts_do_not_extend_the_lock(app_server, account, database_url):
    for _ in range(5):
        login(app_server, account.email, "wrong-password-123")
    for _ in range(3):
        assert login(app_server, account.email, "wrong-password-123").status_code == 429
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM login_attempts WHERE user_id = %s", (account.user_id,)
        )
        assert cur.fetchone()["n"] == 5


def test_a_success_resets_the_failure_count(app_server, account):
    for _ in range(4):
        login(app_server, account.email, "wrong-password-123")
    assert login(app_server, account.email, PASSWORD).status_code == 200
    for _ in range(4):
        assert login(app_server, account.email, "wrong-password-123").status_code == 401
    assert login(app_server, account.email, PASSWORD).status_code == 200


def test_concurrent_failures_cannot_slip_past_the_limit(app_server, account):
    """Eight at once: at most five are verified and refused (the others are throttled, or told
    to come back while the verification slots are busy); then the account is locked here."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda _: login(app_server, account.email, "wrong-pw-12345").status_code, range(8)
            )
        )
    assert set(statuses) <= {401, 429, 503}
    assert statuses.count(401) <= 5
    refused = statuses.count(401)
    for _ in range(10):  # the rest one by one, until the lock holds
        status = login(app_server, account.email, "wrong-pw-12345").status_code
        if status == 429:
            break
        refused += status == 401
    assert status == 429
    assert refused == 5  # never more than the limit, however the attempts interleaved


def test_login_validation(app_server):
    problem = assert_problem(
        app_server.request("POST", "api/auth/login", json={"email": ""}), 422, "validation_error"
    )
    assert {tuple(e["loc"]) for e in problem["errors"]} == {("body", "email"), ("body", "password")}


def test_login_rehashes_a_password_hashed_with_older_parameters(app_server, database_url):
    from argon2 import PasswordHasher

    from shared.auth.passwords import needs_rehash

    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert needs_rehash(weak)
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian")
        cur.execute("UPDATE users SET password_hash = %s WHERE user_id = %s", (weak, user.user_id))

    assert login(app_server, user.email, PASSWORD).status_code == 200

    with cursor(database_url) as cur:
        cur.execute("SELECT password_hash FROM users WHERE user_id = %s", (user.user_id,))
        stored = cur.fetchone()["password_hash"]
    assert stored != weak
    assert not needs_rehash(stored)
    assert login(app_server, user.email, PASSWORD).status_code == 200  # the new hash verifies
