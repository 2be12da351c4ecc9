"""The process's one Azure OpenAI client, its configuration, and what the last calls did.

The client is built on first use, behind a lock, from the settings: endpoint, deployment, API
version and timeout. It authenticates with the `AzureOpenaiKey` secret when one is configured
(read through `shared.secrets` on every request, so a rotated key is picked up when its cache
entry expires or is invalidated), else with a Microsoft Entra token from DefaultAzureCredential
(the Function App's managed identity in Azure).

Time budget. The SDK's own retries are off (`max_retries=0`); `structured.generate` makes at
most two attempts (the second carries the first one's failure reason). Each attempt waits at
most `AZURE_OPENAI_TIMEOUT` seconds for the network (httpx's timeout bounds each connect and
each read), and both attempts share one deadline of `budget_seconds` = 2 x the timeout, capped
at `MAX_BUDGET_SECONDS`. So the worst case of a request is 2 x AZURE_OPENAI_TIMEOUT plus the
database work and the template (milliseconds): 60 s at the default 30 s, 90 s at production's
45 s, and never more than 200 s, inside the 230 s after which Azure's front end drops an HTTP
request.

AI is off (templates only) when ENABLE_AI_CARE_PLAN is false or AZURE_OPENAI_ENDPOINT is empty.
The readiness check reads `health()`: configuration plus the outcome of recent calls; it never
calls the model.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from shared.config import Settings, get_settings
from shared.observability import get_logger

log = get_logger("ai")

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
SECRET_NAME = "AzureOpenaiKey"  # noqa: S105 - the secret's name, not its value
#: Azure's front end ends an HTTP request after 230 s; both attempts together stay below this.
MAX_BUDGET_SECONDS = 200.0
#: Recent call outcomes older than this no longer make the readiness check degraded.
HEALTH_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class AiConfig:
    """What a generation needs to know about the AI service, read from the settings."""

    enabled: bool
    endpoint: str | None
    deployment: str
    api_version: str
    timeout: float
    disabled_reason: str | None = None

    @property
    def budget_seconds(self) -> float:
        """The deadline shared by both attempts of one generation."""
        return min(2 * self.timeout, MAX_BUDGET_SECONDS)


def ai_config(settings: Settings | None = None) -> AiConfig:
    settings = settings or get_settings()
    reason = None
    if not settings.enable_ai_care_plan:
        reason = "ENABLE_AI_CARE_PLAN is false; templates serve"
    elif not settings.azure_openai_endpoint:
        reason = "AZURE_OPENAI_ENDPOINT is not set; templates serve"
    return AiConfig(
        enabled=reason is None,
        endpoint=settings.azure_openai_endpoint,
        deployment=settings.azure_openai_deployment,
        api_version=settings.azure_openai_api_version,
        timeout=settings.azure_openai_timeout,
        disabled_reason=reason,
    )


# -- the client ------------------------------------------------------------------------------

_lock = threading.Lock()
_client: Any = None


def get_ai_client() -> Any:
    """The process-wide `openai.AzureOpenAI` (imports the SDK on first use)."""
    global _client  # noqa: PLW0603 - one lazily built client per process is the design
    with _lock:
        if _client is None:
            _client = _build_client(get_settings())
        return _client


def _build_client(settings: Settings) -> Any:
    from openai import AzureOpenAI

    from shared.secrets import get_secrets

    config = ai_config(settings)
    if not config.endpoint:
        raise RuntimeError("Azure OpenAI is not configured (AZURE_OPENAI_ENDPOINT is empty)")
    secrets = get_secrets()
    if secrets.get_optional(SECRET_NAME):
        # A callable: the SDK asks for the key on every request, so a rotated key (after the
        # cache expires, or after `forget_key` on a 401) is used without rebuilding the client.
        auth: dict[str, Any] = {"api_key": lambda: secrets.get(SECRET_NAME)}
        method = "api_key"
    else:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        auth = {
            "azure_ad_token_provider": get_bearer_token_provider(
                DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE
            )
        }
        method = "entra_id"
    log.info("ai_client_created", deployment=config.deployment, auth=method)
    return AzureOpenAI(
        azure_endpoint=config.endpoint,
        api_version=config.api_version,
        timeout=config.timeout,
        max_retries=0,
        **auth,
    )


def forget_key() -> None:
    """After a 401: drop the cached key so the next request reads the current one."""
    from shared.secrets import get_secrets

    get_secrets().invalidate(SECRET_NAME)


def reset_ai_client() -> None:
    """Forget the client and the call history (tests; after settings change)."""
    global _client
    with _lock:
        client, _client = _client, None
    if client is not None:
        client.close()
    with _outcomes_lock:
        _outcomes.clear()


# -- recent outcomes, for the readiness check ------------------------------------------------


@dataclass(frozen=True)
class CallOutcome:
    """One call to the service: did it answer (whatever we then thought of the answer)?"""

    ok: bool
    kind: str
    at: float


_outcomes_lock = threading.Lock()
_outcomes: deque[CallOutcome] = deque(maxlen=20)


def record_call(ok: bool, kind: str = "ok") -> None:
    with _outcomes_lock:
        _outcomes.append(CallOutcome(ok=ok, kind=kind, at=time.monotonic()))


def health(settings: Settings | None = None) -> tuple[str, str]:
    """(status, detail) for `/health/ready`: disabled, ok, or degraded after a failed call."""
    config = ai_config(settings)
    if not config.enabled:
        return "disabled", config.disabled_reason or "AI is off"
    now = time.monotonic()
    with _outcomes_lock:
        recent = [o for o in _outcomes if now - o.at <= HEALTH_WINDOW_SECONDS]
    head = f"deployment {config.deployment}"
    if not recent:
        return "ok", f"{head}; no calls in the last {HEALTH_WINDOW_SECONDS // 60} min"
    last = recent[-1]
    ago = round(now - last.at)
    if not last.ok:
        failed = sum(1 for o in recent if not o.ok)
        return "degraded", (
            f"{head}; last call failed ({last.kind}) {ago} s ago, {failed} of the last"
            f" {len(recent)} failed; templates serve meanwhile"
        )
    return "ok", f"{head}; last call answered {ago} s ago"
