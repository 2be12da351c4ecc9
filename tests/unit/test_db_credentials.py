"""The database login provider (shared.db_credentials) and its settings, without a server.

The credential below stands in for azure-identity's: it answers get_token_info as
DefaultAzureCredential does and records whether the call asked past the cache (claims).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from azure.core.credentials import AccessTokenInfo, SupportsTokenInfo
from azure.core.exceptions import ClientAuthenticationError
from psycopg2.extensions import parse_dsn

from shared.config import DatabaseAuth, load_settings
from shared.db_credentials import (
    ENTRA_SCOPE,
    DatabaseCredentialsUnavailableError,
    EntraCredentials,
    LoginCredential,
    PasswordCredentials,
    build_credentials,
    entra_dsn,
)
from shared.errors import ConfigurationError
from shared.secrets import SecretsProvider

URL = "postgresql://neulbomcare_api:app-password-123456@db.example.postgres.database.azure.com:5432/neulbomcare"


@dataclass
class StubCredential:
    lifetime: float = 3600
    now: list[float] = field(default_factory=lambda: [1_000_000.0])
    calls: list[tuple[str, bool]] = field(default_factory=list)
    fail: bool = False

    def get_token_info(self, *scopes: str, options: dict[str, Any] | None = None) -> Any:
        if self.fail:
            raise ClientAuthenticationError("identity endpoint unavailable")
        self.calls.append((scopes[0], bool(options and options.get("claims"))))
        return AccessTokenInfo(f"token-{len(self.calls)}", int(self.now[0] + self.lifetime))


def entra(stub: StubCredential, url: str = URL) -> EntraCredentials:
    credential = cast(SupportsTokenInfo, stub)  # get_token_info is all the provider calls
    return EntraCredentials(
        lambda: url, "func-neulbom-abc", lambda: credential, clock=lambda: stub.now[0]
    )


def test_an_entra_login_is_the_url_with_the_identitys_user_and_a_token_as_password() -> None:
    stub = StubCredential()
    login = entra(stub).current()
    params = parse_dsn(login.dsn)

    assert stub.calls == [(ENTRA_SCOPE, False)]
    assert params["user"] == "func-neulbom-abc"
    assert params["password"] == "token-1"  # the URL's password is never used
    assert params["host"] == "db.example.postgres.database.azure.com"
    assert params["dbname"] == "neulbomcare"
    assert params["sslmode"] == "require"
    assert "token-1" not in repr(login)


@pytest.mark.parametrize(
    ("url", "sslmode"),
    [
        ("postgresql://x@127.0.0.1:5432/db", None),
        ("postgresql://x@localhost/db", None),
        ("host=/tmp/socket dbname=db", None),
        ("postgresql://x@db.example.com/db?sslmode=verify-full", "verify-full"),
        ("postgresql://x@db.example.com/db", "require"),
    ],
)
def test_tls_is_required_unless_the_host_is_local_or_the_url_chooses(
    url: str, sslmode: str | None
) -> None:
    assert parse_dsn(entra_dsn(url, "u", "t")).get("sslmode") == sslmode


def test_the_token_is_kept_until_five_minutes_before_it_expires() -> None:
    stub = StubCredential(lifetime=3600)
    provider = entra(stub)
    first = provider.current()

    assert first.renew_at == stub.now[0] + 3600 - 300
    stub.now[0] += 3600 - 301
    assert provider.current() is first
    assert len(stub.calls) == 1

    stub.now[0] += 2  # inside the margin: a new token, from the normal (cached) path
    second = provider.current()
    assert second.dsn != first.dsn
    assert stub.calls[-1] == (ENTRA_SCOPE, False)


def test_a_short_lived_token_is_renewed_half_way() -> None:
    stub = StubCredential(lifetime=60)
    login = entra(stub).current()
    assert login.renew_at == stub.now[0] + 30


def test_a_refused_token_is_replaced_past_the_cache_once_per_interval() -> None:
    stub = StubCredential()
    provider = entra(stub)
    refused = provider.current()

    assert provider.refused(refused) is True
    renewed = provider.current()
    assert stub.calls[-1] == (ENTRA_SCOPE, True)  # claims: the endpoint, not the cache
    assert renewed.dsn != refused.dsn

    # Another thread's refusal of the old token finds the new one: nothing to forget.
    assert provider.refused(refused) is True
    assert provider.current() is renewed
    # The new one refused as well within the interval: nothing new to try.
    assert provider.refused(renewed) is False
    assert len(stub.calls) == 2


def test_concurrent_borrowers_share_one_token_request() -> None:
    stub = StubCredential()
    provider = entra(stub)
    logins: list[LoginCredential] = []
    threads = [threading.Thread(target=lambda: logins.append(provider.current())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(stub.calls) == 1
    assert len({login.dsn for login in logins}) == 1


def test_an_identity_failure_is_a_503_that_names_no_token() -> None:
    with pytest.raises(DatabaseCredentialsUnavailableError) as raised:
        entra(StubCredential(fail=True)).current()
    assert raised.value.status == 503
    assert raised.value.retry_after == 5


def test_a_password_login_is_the_secret_as_it_is_and_a_refusal_rereads_it() -> None:
    values = iter(["postgresql://a:old@h/db", "postgresql://a:new@h/db"])
    forgotten: list[bool] = []
    provider = PasswordCredentials(lambda: next(values), lambda: forgotten.append(True))

    first = provider.current()
    assert first == LoginCredential("postgresql://a:old@h/db", None)
    assert provider.current() is first
    assert provider.refused(first) is True
    assert forgotten == [True]
    assert provider.current().dsn == "postgresql://a:new@h/db"


def test_a_password_login_without_a_way_to_refresh_reports_nothing_new() -> None:
    provider = PasswordCredentials(lambda: "postgresql://a@h/db")
    assert provider.refused(provider.current()) is False


def test_build_credentials_follows_database_auth() -> None:
    secrets = SecretsProvider([], ttl_seconds=60)
    password = build_credentials(load_settings(), secrets)
    entra_login = build_credentials(
        load_settings(database_auth="entra", database_entra_user="func-neulbom-abc"), secrets
    )
    assert isinstance(password, PasswordCredentials)
    assert isinstance(entra_login, EntraCredentials)
    assert entra_login.mode is DatabaseAuth.ENTRA


def test_entra_without_a_user_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_AUTH", "entra")
    with pytest.raises(ConfigurationError, match="DATABASE_ENTRA_USER"):
        load_settings()
    monkeypatch.setenv("DATABASE_ENTRA_USER", "func-neulbom-abc")
    settings = load_settings()
    assert settings.database_auth is DatabaseAuth.ENTRA


def test_an_unknown_database_auth_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_AUTH", "kerberos")
    with pytest.raises(ConfigurationError, match="DATABASE_AUTH"):
        load_settings()
