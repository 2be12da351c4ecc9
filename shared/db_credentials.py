"""The login of the next database connection, by `DATABASE_AUTH`: its one job.

- `password` (the default, and what local development uses): the `DatabaseURL` secret as it is
  (Key Vault, else the `DATABASE_URL` setting), read once and kept until a login is refused.
- `entra` (what Azure recommends, the production default in infra): Microsoft Entra
  authentication with the app's managed identity. Host, port and database come from
  `DatabaseURL` (a password in it is ignored), the user is `DATABASE_ENTRA_USER` (the database
  role made for the identity) and the password is an access token for `ENTRA_SCOPE`, obtained
  through the same credential as Key Vault's (shared.secrets.azure_credential). The token is kept
  and replaced `REFRESH_MARGIN_SECONDS` before it expires (half its lifetime for short-lived
  ones); every login carries `renew_at`, after which the pool recycles connections made with it,
  so no connection outlives its token. `sslmode=require` unless the URL says otherwise or the
  host is local.

Either way, a login the server refused for its credentials is reported with `refused()`: the
cached login is forgotten and the next `current()` fetches a new one (the secret re-read; a token
asked for past every cache), at most once per `refresh_interval`, and a login another thread
fetched meanwhile is reused. The password or token is registered with the log redactor and never
logged; `LoginCredential`'s repr hides it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from psycopg2.extensions import make_dsn, parse_dsn

from shared.config import DatabaseAuth, Settings
from shared.errors import ConfigurationError, ServiceUnavailableError
from shared.observability import get_logger, register_secret

if TYPE_CHECKING:
    from azure.core.credentials import SupportsTokenInfo

    from shared.secrets import SecretsProvider

log = get_logger("db_credentials")

#: The resource of Azure Database for PostgreSQL's Microsoft Entra tokens.
ENTRA_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
#: A token is replaced this long before it expires, and connections made with it are recycled.
REFRESH_MARGIN_SECONDS = 300.0
#: The claims challenge of a forced refresh (any challenge bypasses the token cache).
_CLAIMS = json.dumps({"access_token": {"nbf": {"essential": True, "value": "0"}}})
#: Hosts reached without TLS by default (a local server or a Unix socket).
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class LoginCredential:
    """What a new connection logs in with: a libpq DSN (password or token included) and, for a
    token, when (epoch seconds) to stop using it and connections made with it."""

    dsn: str = field(repr=False)
    renew_at: float | None = None


class DatabaseCredentialsUnavailableError(ServiceUnavailableError):
    """No login could be obtained (the identity endpoint failed): 503, like a database down."""

    def __init__(self) -> None:
        super().__init__("The database is unavailable; try again shortly.", retry_after=5)


class DatabaseCredentials:
    """Caches one login; subclasses say how to fetch one and what to forget after a refusal."""

    mode: DatabaseAuth = DatabaseAuth.PASSWORD

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: LoginCredential | None = None
        self._force = False
        #: When a refusal last forgot the login (monotonic), and how often one may.
        self._refreshed_at: float | None = None
        self.refresh_interval = 1.0

    def current(self) -> LoginCredential:
        """The login for the next connection; fetched when none is kept or it is due."""
        with self._lock:
            cached = self._cached
            if cached is None or (cached.renew_at is not None and self._clock() >= cached.renew_at):
                force, self._force = self._force, False
                cached = self._cached = self._fetch(force=force)
            return cached

    def refused(self, tried: LoginCredential) -> bool:
        """The server refused `tried` for its credentials: forget it so the next `current()`
        fetches a new one. True when there is something new to try (fetched now, or by another
        thread meanwhile); False when nothing can change (no way to refresh, or a refresh less
        than `refresh_interval` ago already gave this)."""
        if not self.can_refresh:
            return False
        with self._lock:
            if self._cached is not None and self._cached.dsn != tried.dsn:
                return True  # another thread already fetched a different login
            now = time.monotonic()
            last = self._refreshed_at
            if last is not None and now - last < self.refresh_interval:
                return self._cached is None  # another thread just forgot it: fetch again
            self._refreshed_at = now
            self._cached = None
            self._force = True
        log.warning("db_auth_failed_refreshing_credentials", mode=self.mode.value)
        self._forget()
        return True

    def reset(self) -> None:
        """Forget the kept login (the pool was closed): the next use fetches one."""
        with self._lock:
            self._cached = None

    @property
    def can_refresh(self) -> bool:
        return True

    def _fetch(self, *, force: bool) -> LoginCredential:
        raise NotImplementedError

    def _forget(self) -> None:
        """What to drop besides the kept login after a refusal (a cached secret)."""


class PasswordCredentials(DatabaseCredentials):
    """The `DatabaseURL` secret as it is; `forget` drops the secrets provider's cached copy."""

    mode = DatabaseAuth.PASSWORD

    def __init__(
        self,
        url: Callable[[], str],
        forget: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock)
        self._url = url
        self._forget_url = forget

    @property
    def can_refresh(self) -> bool:
        return self._forget_url is not None

    def _fetch(self, *, force: bool) -> LoginCredential:
        return LoginCredential(self._url())

    def _forget(self) -> None:
        if self._forget_url is not None:
            self._forget_url()


class EntraCredentials(DatabaseCredentials):
    """`user` logs in to the `DatabaseURL`'s server and database with an access token of
    `credential` (the managed identity) for `ENTRA_SCOPE`."""

    mode = DatabaseAuth.ENTRA

    def __init__(
        self,
        url: Callable[[], str],
        user: str,
        credential: Callable[[], SupportsTokenInfo],
        forget_url: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        super().__init__(clock)
        self._url = url
        self._user = user
        self._credential_factory = credential
        self._credential: SupportsTokenInfo | None = None
        self._forget_url = forget_url
        self.refresh_margin = refresh_margin

    def _fetch(self, *, force: bool) -> LoginCredential:
        url = self._url()
        token, expires_on = self._token(force=force)
        now = self._clock()
        # Half the remaining lifetime for short-lived tokens, so one is used before it is due.
        margin = min(self.refresh_margin, max(expires_on - now, 0.0) / 2)
        log.info(
            "db_token_acquired", expires_in=int(expires_on - now), forced=force, user=self._user
        )
        return LoginCredential(entra_dsn(url, self._user, token), renew_at=expires_on - margin)

    def _token(self, *, force: bool) -> tuple[str, float]:
        from azure.core.exceptions import AzureError

        if self._credential is None:
            self._credential = self._credential_factory()
        try:
            if force:
                # A claims challenge makes the identity library ask the endpoint past its own
                # cache, where the refused token may still look valid.
                info = self._credential.get_token_info(ENTRA_SCOPE, options={"claims": _CLAIMS})
            else:
                info = self._credential.get_token_info(ENTRA_SCOPE)
        except AzureError as exc:
            log.error("db_token_failed", error=type(exc).__name__)
            raise DatabaseCredentialsUnavailableError() from exc
        register_secret(info.token)
        return info.token, float(info.expires_on)

    def _forget(self) -> None:
        if self._forget_url is not None:
            self._forget_url()


def entra_dsn(url: str, user: str, token: str) -> str:
    """`url`'s server and database as `user` with `token` as the password; TLS required unless
    the URL chooses an sslmode or the host is local."""
    params = parse_dsn(url)
    params.pop("password", None)
    params["user"] = user
    params["password"] = token
    host = params.get("host", "")
    if "sslmode" not in params and host not in LOCAL_HOSTS and not host.startswith("/"):
        params["sslmode"] = "require"
    return str(make_dsn(**params))


def build_credentials(settings: Settings, secrets: SecretsProvider) -> DatabaseCredentials:
    """The provider `DATABASE_AUTH` asks for, reading `DatabaseURL` through `secrets`."""

    def url() -> str:
        return secrets.get("DatabaseURL")

    def forget_url() -> None:
        secrets.invalidate("DatabaseURL")

    if settings.database_auth is DatabaseAuth.ENTRA:
        from shared.secrets import azure_credential

        user = settings.database_entra_user
        if not user:
            raise ConfigurationError("DATABASE_ENTRA_USER is required when DATABASE_AUTH is entra")
        client_id = settings.azure_client_id
        return EntraCredentials(url, user, lambda: azure_credential(client_id), forget_url)
    return PasswordCredentials(url, forget_url)
