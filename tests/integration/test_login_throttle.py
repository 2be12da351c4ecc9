"""Sign-in throttling (shared.auth.login_throttle): one normalisation of the address, limits per
(account, client address), a per-account slowdown that never locks the owner out, a ceiling
per client address across accounts, and exact limits under concurrency.

The service is called in process with chosen client addresses (the served app sees every test
as 127.0.0.1); each test uses addresses of its own, so tests sharing the database never meet.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from models.accounts import LoginRequest
from shared.auth import accounts, login_throttle
from shared.errors import RateLimitedError, ServiceUnavailableError, UnauthorizedError
from shared.unit_of_work import UnitOfWork
from tests.factories import PASSWORD, cursor, make_user, unique_email

pytestmark = pytest.mark.integration

WRONG = "wrong-password-123"


def new_address() -> str:
    """A documentation-range IPv6 address no other test uses."""
    tail = uuid.uuid4().hex
    return f"2001:db8:{tail[:4]}:{tail[4:8]}::{tail[8:12]}"


def sign_in(email: str, password: str, ip: str | None) -> int:
    """The status the API would answer: 200, 401, 429 or 503."""
    try:
        with UnitOfWork.for_job() as uow:
            accounts.login(uow, LoginRequest(email=email, password=password), client_ip=ip)
    except UnauthorizedError:
        return 401
    except RateLimitedError:
        return 429
    except ServiceUnavailableError:
        return 503
    return 200


def retry_after(email: str, password: str, ip: str | None) -> int:
    with pytest.raises(RateLimitedError) as caught, UnitOfWork.for_job() as uow:
        accounts.login(uow, LoginRequest(email=email, password=password), client_ip=ip)
    return caught.value.retry_after


@pytest.fixture
def account(app_env, database_url):
    with cursor(database_url) as cur:
        return make_user(cur, "guardian", with_password=True)


def age_attempts(database_url: str, user_id: int, seconds: int) -> None:
    with cursor(database_url) as cur:
        cur.execute(
            "UPDATE login_attempts SET attempted_at = attempted_at - make_interval(secs => %s)"
            " WHERE user_id = %s",
            (seconds, user_id),
        )


# -- 1. one normalisation -------------------------------------------------------------------


def test_a_case_mapping_variant_of_the_address_shares_the_accounts_count(app_env, database_url):
    """U+0130 (İ) lowers to one character in PostgreSQL and two in Python: a variant typed with
    it reaches the same account, so it must meet the same lock."""
    email = unique_email("kim")  # kim-...@test.neulbomcare.kr
    variant = "K\u0130M" + email[3:]
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian", email=email, with_password=True)
    ip = new_address()
    assert sign_in(variant, PASSWORD, ip) == 200  # the variant is the same account
    for _ in range(login_throttle.MAX_FAILURES):
        assert sign_in(email, WRONG, ip) == 401

    assert sign_in(variant, PASSWORD, ip) == 429
    assert sign_in(variant.upper(), PASSWORD, ip) == 429
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n, count(DISTINCT user_id) AS users FROM login_attempts"
            " WHERE client_ip = %s",
            (ip,),
        )
        row = cur.fetchone()
    assert (row["n"], row["users"]) == (1 + login_throttle.MAX_FAILURES, 1)
    del user


def test_variants_of_an_unknown_address_share_one_count(app_env):
    email = unique_email("nobody")
    ip = new_address()
    for typed in [email, email.upper(), f"  {email}", email.title(), email]:
        assert sign_in(typed, WRONG, ip) == 401
    assert sign_in(email.upper(), WRONG, ip) == 429


# -- 2. per (account, address), per account, per address -----------------------------------


def test_failures_from_one_address_do_not_lock_the_owner_out(account):
    attacker, owner = new_address(), new_address()
    for _ in range(login_throttle.MAX_FAILURES):
        assert sign_in(account.email, WRONG, attacker) == 401
    assert 14 * 60 < retry_after(account.email, PASSWORD, attacker) <= 15 * 60

    assert sign_in(account.email, PASSWORD, owner) == 200


def test_many_addresses_slow_the_account_down_but_never_lock_it(account, database_url):
    per_address = login_throttle.MAX_FAILURES
    for _ in range(login_throttle.ACCOUNT_SLOWDOWN_AFTER // per_address):
        ip = new_address()
        for _ in range(per_address):
            assert sign_in(account.email, WRONG, ip) == 401

    owner = new_address()
    wait = retry_after(account.email, PASSWORD, owner)  # one attempt per account every N s
    assert 1 <= wait <= login_throttle.ACCOUNT_SLOWDOWN_SECONDS
    assert sign_in(account.email, WRONG, new_address()) == 429  # guessers wait too

    age_attempts(database_url, account.user_id, login_throttle.ACCOUNT_SLOWDOWN_SECONDS + 1)
    assert sign_in(account.email, WRONG, new_address()) == 401  # one guess got through...
    assert sign_in(account.email, PASSWORD, owner) == 429  # ...and the next waits again
    age_attempts(database_url, account.user_id, login_throttle.ACCOUNT_SLOWDOWN_SECONDS + 1)
    assert sign_in(account.email, PASSWORD, owner) == 200  # the owner is in after a wait
    assert sign_in(account.email, PASSWORD, owner) == 200  # and a success ends the slowdown


def test_one_address_cannot_spray_a_password_across_accounts(app_env, database_url):
    sprayer = new_address()
    with cursor(database_url) as cur:
        victims = [make_user(cur, "guardian") for _ in range(3)]
    emails = [v.email for v in victims] + [
        unique_email("spray") for _ in range(login_throttle.address_max_failures() - 3)
    ]
    for email in emails:
        assert sign_in(email, "Winter2026!!", sprayer) == 401
    with cursor(database_url) as cur:
        fresh = make_user(cur, "guardian", with_password=True)

    wait = retry_after(fresh.email, PASSWORD, sprayer)  # even a right password, from there
    assert 14 * 60 < wait <= 15 * 60
    assert sign_in(fresh.email, PASSWORD, new_address()) == 200  # other addresses unaffected


def test_without_a_client_address_the_account_limit_still_holds(account):
    for _ in range(login_throttle.MAX_FAILURES):
        assert sign_in(account.email, WRONG, None) == 401
    assert sign_in(account.email, PASSWORD, None) == 429
    assert sign_in(account.email, PASSWORD, new_address()) == 200


# -- 3. exact under concurrency ----------------------------------------------------------


def test_concurrent_failures_never_exceed_the_limit(account, monkeypatch):
    """With every attempt verified at once (eight slots), reservations keep the limit exact."""
    from shared.config import reset_settings

    monkeypatch.setenv("LOGIN_CONCURRENCY", "8")
    reset_settings()
    ip = new_address()
    start = threading.Barrier(8)

    def attempt(_: int) -> int:
        start.wait()
        return sign_in(account.email, WRONG, ip)

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [401] * login_throttle.MAX_FAILURES + [429] * 3
