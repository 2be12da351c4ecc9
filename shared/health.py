"""Readiness checks: one registry that every area adds its dependency check to.

A check is a function that returns normally when its dependency works, raises when it does not,
or returns a `CheckOutcome` to say "degraded" or "disabled" with a reason. Checks run in parallel,
each with a time limit, so one hanging dependency cannot hold the probe hostage.

Overall status: a critical check down -> unhealthy (HTTP 503); any other check not ok ->
degraded (200), except an optional check that is merely disabled by configuration.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from models.health import CheckResult, CheckStatus, Readiness
from shared.config import get_settings
from shared.observability import get_logger, redact_text

log = get_logger("health")


@dataclass(frozen=True)
class CheckOutcome:
    """What a check returns when its answer is not simply "ok"."""

    status: CheckStatus
    detail: str | None = None


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    run: Callable[[], CheckOutcome | None]
    critical: bool = False
    optional: bool = False


_checks: dict[str, ReadinessCheck] = {}
_executor = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="ready")


def readiness_check(
    name: str, *, critical: bool = False, optional: bool = False
) -> Callable[[Callable[[], CheckOutcome | None]], Callable[[], CheckOutcome | None]]:
    """Register a readiness check under `name` (a later registration replaces an earlier one)."""

    def register(fn: Callable[[], CheckOutcome | None]) -> Callable[[], CheckOutcome | None]:
        _checks[name] = ReadinessCheck(name, fn, critical=critical, optional=optional)
        return fn

    return register


def registered_checks() -> dict[str, ReadinessCheck]:
    return dict(_checks)


def _timed(check: ReadinessCheck) -> CheckResult:
    started = time.perf_counter()
    try:
        outcome = check.run() or CheckOutcome("ok")
    except Exception as exc:  # a failing dependency is data here, not a crash
        outcome = CheckOutcome("down", redact_text(f"{type(exc).__name__}: {exc}")[:300])
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return CheckResult(status=outcome.status, latency_ms=elapsed, detail=outcome.detail)


def run_readiness(timeout_seconds: float = 5.0) -> Readiness:
    """Run every registered check in parallel and combine them into the ready report."""
    checks = list(_checks.values())
    futures = {check.name: _executor.submit(_timed, check) for check in checks}
    deadline = time.monotonic() + timeout_seconds
    results: dict[str, CheckResult] = {}
    for check in checks:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            results[check.name] = futures[check.name].result(timeout=remaining)
        except concurrent.futures.TimeoutError:
            results[check.name] = CheckResult(
                status="down",
                latency_ms=round(timeout_seconds * 1000, 1),
                detail=f"no answer within {timeout_seconds:g} s",
            )
    status = overall_status(checks, results)
    if status != "healthy":
        log.warning(
            "readiness_not_healthy",
            status=status,
            failing={k: v.status for k, v in results.items() if v.status != "ok"},
        )
    return Readiness(
        status=status,
        timestamp=datetime.now(UTC),
        version=get_settings().app_version,
        checks=results,
    )


def may_see_readiness_details(authorization: str | None) -> bool:
    """Whether the caller of `/health/ready` may see the checks: an admin's valid bearer
    token. Anything else (no token, a bad one, another role, or a database too sick to check
    the token) gets the status only, never an error."""
    if not authorization:
        return False
    from models.vocabularies import Role
    from shared.auth.authentication import authenticate_bearer

    try:
        principal = authenticate_bearer(authorization)
    except Exception as exc:  # 401, or the database is down: the caller is anonymous here
        log.info("readiness_details_refused", reason=type(exc).__name__)
        return False
    return principal.role is Role.ADMIN


def overall_status(checks: list[ReadinessCheck], results: dict[str, CheckResult]) -> str:
    """unhealthy if a critical check is down; degraded if anything else is not ok."""
    by_name = {check.name: check for check in checks}
    if any(by_name[name].critical and r.status == "down" for name, r in results.items()):
        return "unhealthy"
    for name, result in results.items():
        if result.status == "ok" or (result.status == "disabled" and by_name[name].optional):
            continue
        return "degraded"
    return "healthy"
