"""The operations guide's daily and weekly checklist as one run (`manage.py ops-check`).

Each check is one function returning a `Check` (name, ok, detail with the figure); `run_checks`
runs them all and never raises: a check that cannot look (the database or the app unreachable)
fails saying why. What a workstation can see:

- `health`: GET and HEAD of URL/health answer 200;
- `ready`: GET URL/health/ready answers 200 (`healthy` or `degraded`; with an admin token the
  checks that are not ok are named);
- `full_backup_age`, `incremental_backup_age`: the newest succeeded backup of each kind is
  younger than 26 hours and 30 minutes (shared.backup.status, the limits the health check uses);
- `restore_drill`: the newest drill succeeded, its RTO is under an hour, it is under 8 days old;
- `maintenance`: `db_maintenance` ran within 8 days (its audit event);
- `migrations`: the database is at the head revision of this checkout's migrations;
- `model`: a matching model is published and verifies, and (with an admin token) the instance
  the URL reaches serves that version;
- `key_vault_secrets`: no enabled secret of KEY_VAULT_URL expires within 30 days;
- `certificate`: the URL's TLS certificate is valid for 14 more days.

The last two are "not applicable" (ok, and the detail says why) without a Key Vault or for an
http URL. Thresholds are the constants below; docs/operations.md names them.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.backup import ops_records
from shared.backup.status import FULL_MAX_AGE, LATEST_MAX_AGE
from shared.db import Cursor

INCREMENTAL_MAX_AGE = LATEST_MAX_AGE
DRILL_MAX_RTO = timedelta(hours=1)
DRILL_MAX_AGE = timedelta(days=8)
MAINTENANCE_MAX_AGE = timedelta(days=8)
SECRET_EXPIRY_MARGIN = timedelta(days=30)
CERTIFICATE_EXPIRY_MARGIN = timedelta(days=14)
HTTP_TIMEOUT_SECONDS = 10.0
NOT_APPLICABLE = "not applicable"
#: Statuses of /health/ready that mean the app serves (degraded: something optional is down).
SERVING = ("healthy", "degraded")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """What the checks look at: the app's base URL and, optionally, an admin's bearer token."""

    url: str
    admin_token: str | None = None

    def endpoint(self, path: str) -> str:
        return f"{self.url.rstrip('/')}/{path.lstrip('/')}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    elapsed_ms: float

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def fetch(url: str, *, method: str = "GET", token: str | None = None) -> Answer:
    """One HTTP request; an error status is an Answer too, a network failure raises OSError."""
    request = urllib.request.Request(url, method=method)  # noqa: S310 - operator-given URL
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return Answer(status, body, round((time.perf_counter() - started) * 1000, 1))


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


def _minutes(age: timedelta) -> str:
    return f"{age.total_seconds() / 60:.0f} min"


def _network_failure(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"no answer: {type(exc).__name__}: {reason}"


# -- the app over HTTP -------------------------------------------------------------------------


def check_health(target: Target) -> Check:
    try:
        get = fetch(target.endpoint("health"))
        head = fetch(target.endpoint("health"), method="HEAD")
    except OSError as exc:
        return Check("health", False, _network_failure(exc))
    ok = get.status == 200 and head.status == 200
    return Check("health", ok, f"GET {get.status} ({get.elapsed_ms:.0f} ms), HEAD {head.status}")


def check_ready(target: Target) -> Check:
    try:
        answer = fetch(target.endpoint("health/ready"), token=target.admin_token)
        body = answer.json()
    except OSError as exc:
        return Check("ready", False, _network_failure(exc))
    except ValueError:
        return Check("ready", False, f"{answer.status}, not JSON")
    status = body.get("status") if isinstance(body, dict) else None
    detail = f"{answer.status} {status}"
    checks = body.get("checks") if isinstance(body, dict) else None
    if isinstance(checks, dict):
        not_ok = [
            f"{name} {check.get('status')}"
            for name, check in checks.items()
            if isinstance(check, dict) and check.get("status") != "ok"
        ]
        detail += f" ({', '.join(not_ok)})" if not_ok else " (every check ok)"
    return Check("ready", answer.status == 200 and status in SERVING, detail)


# -- the database ------------------------------------------------------------------------------


def check_full_backup_age(cur: Cursor, now: datetime) -> Check:
    return _backup_age("full_backup_age", "full", FULL_MAX_AGE, _hours, cur, now)


def check_incremental_backup_age(cur: Cursor, now: datetime) -> Check:
    return _backup_age(
        "incremental_backup_age", "incremental", INCREMENTAL_MAX_AGE, _minutes, cur, now
    )


def _backup_age(
    name: str,
    kind: str,
    limit: timedelta,
    shown: Callable[[timedelta], str],
    cur: Cursor,
    now: datetime,
) -> Check:
    run = ops_records.latest_successes(cur)[kind]
    if run is None or run["snapshot_at"] is None:
        return Check(name, False, f"no {kind} backup has succeeded")
    age = now - run["snapshot_at"]
    return Check(name, age < limit, f"{run['backup_id']} {shown(age)} old (limit {shown(limit)})")


def check_restore_drill(cur: Cursor, now: datetime) -> Check:
    drill = ops_records.latest_drill(cur)
    if drill is None:
        return Check("restore_drill", False, "no restore drill has run")
    age = now - drill["started_at"]
    rto = drill["rto_seconds"]
    problems = []
    if drill["status"] != "succeeded":
        problems.append(drill["status"] + (f": {drill['error']}" if drill["error"] else ""))
    if rto is None or rto >= DRILL_MAX_RTO.total_seconds():
        problems.append(f"RTO over {_hours(DRILL_MAX_RTO)}")
    if age >= DRILL_MAX_AGE:
        problems.append(f"older than {DRILL_MAX_AGE.days} days")
    rto_text = "-" if rto is None else f"{float(rto):.1f} s"
    detail = f"{drill['status']}, RTO {rto_text}, {age.total_seconds() / 86400:.1f} days ago"
    return Check(
        "restore_drill", not problems, detail + (f" — {'; '.join(problems)}" if problems else "")
    )


def check_maintenance(cur: Cursor, now: datetime) -> Check:
    from shared.operations.maintenance import last_run

    finished = last_run(cur)
    if finished is None:
        return Check("maintenance", False, "db_maintenance has never run")
    age = now - finished
    return Check(
        "maintenance",
        age < MAINTENANCE_MAX_AGE,
        f"{age.total_seconds() / 86400:.1f} days ago (limit {MAINTENANCE_MAX_AGE.days} days)",
    )


def check_migrations(cur: Cursor) -> Check:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from shared.config import PROJECT_ROOT

    head = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini"))).get_current_head()
    cur.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL AS migrated")
    row = cur.fetchone()
    current = None
    if row and row["migrated"]:
        cur.execute("SELECT version_num FROM alembic_version")
        found = cur.fetchone()
        current = found["version_num"] if found else None
    return Check("migrations", current == head, f"database at {current or 'nothing'}, head {head}")


def check_database() -> Check:
    """Log in as the app does (DATABASE_URL, or Key Vault's DatabaseURL) and ask the server who
    and where it is: `check-config --connect`."""
    from shared.unit_of_work import UnitOfWork

    started = time.perf_counter()
    try:
        with UnitOfWork.for_job(readonly=True) as uow:
            uow.cursor.execute(
                "SELECT current_user AS login, current_database() AS database, "
                "current_setting('server_version') AS version"
            )
            row = uow.cursor.fetchone()
    except Exception as exc:  # the refusal or the network, in the server's or driver's words
        return Check("database", False, _first_line(exc) + _cause(exc))
    assert row is not None
    elapsed = (time.perf_counter() - started) * 1000
    return Check(
        "database",
        True,
        f"connected as {row['login']} to {row['database']} "
        f"(PostgreSQL {row['version']}, {elapsed:.0f} ms)",
    )


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    return f" ({_first_line(cause)})" if cause is not None else ""


# -- Blob and Key Vault ------------------------------------------------------------------------


def check_model(target: Target) -> Check:
    from shared.config import get_settings
    from shared.matching.model_store import (
        ModelLocation,
        ModelStoreError,
        build_scorer,
        fetch_manifest,
        fetch_model,
        read_pointer,
    )
    from shared.storage import get_blob_service

    location = ModelLocation.parse(get_settings().xgboost_model_path)
    service = get_blob_service()
    try:
        published = read_pointer(service, location)
        manifest = fetch_manifest(service, location, published)
        build_scorer(manifest, fetch_model(service, location, manifest))
    except ModelStoreError as exc:
        return Check("model", False, f"published at {location}: {exc}")
    if not target.admin_token:
        return Check(
            "model", True, f"published {published} verifies; served: unknown (no admin token)"
        )
    try:
        answer = fetch(target.endpoint("api/admin/model"), token=target.admin_token)
        served = answer.json() if answer.status == 200 else None
    except (OSError, ValueError) as exc:
        return Check("model", False, f"published {published}; served: {_network_failure(exc)}")
    if not isinstance(served, dict):
        return Check("model", False, f"published {published}; served: answer {answer.status}")
    version = served.get("version")
    return Check(
        "model",
        version == published,
        f"published {published}, served {version or served.get('kind')}",
    )


def check_key_vault_secrets(now: datetime) -> Check:
    from shared.config import get_settings

    settings = get_settings()
    if not settings.key_vault_url:
        return Check("key_vault_secrets", True, f"{NOT_APPLICABLE}: no KEY_VAULT_URL")
    from azure.keyvault.secrets import SecretClient

    from shared.secrets import azure_credential

    client = SecretClient(settings.key_vault_url, azure_credential(settings.azure_client_id))
    try:
        secrets = [p for p in client.list_properties_of_secrets() if p.enabled]
    except Exception as exc:  # the vault's refusal or the network: say which
        return Check("key_vault_secrets", False, f"cannot list secrets: {type(exc).__name__}")
    expiring = sorted((p.expires_on, p.name) for p in secrets if p.expires_on is not None)
    soon = [
        f"{name} {(when - now).days} days"
        for when, name in expiring
        if when - now < SECRET_EXPIRY_MARGIN
    ]
    if soon:
        return Check("key_vault_secrets", False, "expiring: " + ", ".join(soon))
    first = (
        f"; first expiry {expiring[0][1]} in {(expiring[0][0] - now).days} days" if expiring else ""
    )
    return Check("key_vault_secrets", True, f"{len(secrets)} enabled secrets{first}")


def check_certificate(target: Target, now: datetime) -> Check:
    parsed = urllib.parse.urlsplit(target.url)
    if parsed.scheme != "https" or not parsed.hostname:
        return Check("certificate", True, f"{NOT_APPLICABLE}: {parsed.scheme} URL")
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection(
                (parsed.hostname, parsed.port or 443), timeout=HTTP_TIMEOUT_SECONDS
            ) as raw,
            context.wrap_socket(raw, server_hostname=parsed.hostname) as tls,
        ):
            certificate = tls.getpeercert()
    except (OSError, ssl.SSLError) as exc:
        return Check("certificate", False, _network_failure(exc))
    if not certificate or "notAfter" not in certificate:
        return Check("certificate", False, "the server sent no certificate")
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(certificate["notAfter"])), tz=UTC)
    left = expires - now
    return Check(
        "certificate",
        left >= CERTIFICATE_EXPIRY_MARGIN,
        f"expires {expires:%Y-%m-%d} ({left.days} days; limit {CERTIFICATE_EXPIRY_MARGIN.days})",
    )


# -- all of them -------------------------------------------------------------------------------

CHECK_NAMES = (
    "health",
    "ready",
    "full_backup_age",
    "incremental_backup_age",
    "restore_drill",
    "maintenance",
    "migrations",
    "model",
    "key_vault_secrets",
    "certificate",
)
_DATABASE_CHECKS: tuple[Callable[[Cursor, datetime], Check], ...] = (
    check_full_backup_age,
    check_incremental_backup_age,
    check_restore_drill,
    check_maintenance,
)


def run_checks(target: Target, now: datetime | None = None) -> list[Check]:
    """Every check, in CHECK_NAMES order; never raises."""
    now = now or datetime.now(UTC)
    results = [
        _guarded("health", lambda: check_health(target)),
        _guarded("ready", lambda: check_ready(target)),
    ]
    results.extend(_database_checks(now))
    results.append(_guarded("model", lambda: check_model(target)))
    results.append(_guarded("key_vault_secrets", lambda: check_key_vault_secrets(now)))
    results.append(_guarded("certificate", lambda: check_certificate(target, now)))
    return results


def _database_checks(now: datetime) -> list[Check]:
    from shared.unit_of_work import UnitOfWork

    names = [*(check.__name__.removeprefix("check_") for check in _DATABASE_CHECKS), "migrations"]
    try:
        with UnitOfWork.for_job(readonly=True) as uow:
            results = [check(uow.cursor, now) for check in _DATABASE_CHECKS]
            results.append(check_migrations(uow.cursor))
            return results
    except Exception as exc:  # the database is what is down: every database check says so
        reason = f"database unreachable: {_first_line(exc)}"
        return [Check(name, False, reason) for name in names]


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # Blob or Key Vault unreachable, a bad setting: a failed check
        return Check(name, False, _first_line(exc))


def _first_line(exc: BaseException) -> str:
    from shared.observability import redact_text

    lines = str(exc).strip().splitlines()
    return redact_text(f"{type(exc).__name__}: {lines[0] if lines else ''}")
